// The receipt time of a request as ISO-8601 text: `new Date(ms).toISOString()` against isoTime
// (src/lib/iso-time.ts), with the clock advancing 1 ms every 4 calls (a few requests per
// millisecond, as at ~5000 req/s with bursts).
//   node --import tsx bench/micro/iso-time.ts
import { isoTime } from '../../src/lib/iso-time.js';
import { measure } from './measure.js';

let calls = 0;
const base = Date.UTC(2026, 11, 6, 8, 40, 0);
const now = () => base + (calls++ >> 2);
measure('new Date(ms).toISOString()', () => new Date(now()).toISOString());
calls = 0;
measure('isoTime(ms)', () => isoTime(now()));
