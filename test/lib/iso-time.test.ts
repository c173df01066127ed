import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoTime } from '../../src/lib/iso-time.js';

test('isoTime is toISOString for every millisecond across second, day and year boundaries, forwards and back', () => {
  const starts = [0, Date.UTC(2026, 11, 31, 23, 59, 58), Date.UTC(2024, 1, 28, 23, 59, 59), Date.UTC(2026, 11, 6, 8, 40, 0), 253402300797000];
  for (const start of starts) {
    for (let ms = start; ms < start + 2500; ms++) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
    // A clock that steps back must not be given the cached (later) second.
    for (let ms = start + 2499; ms >= start; ms -= 7) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
});

test('isoTime falls back to Date outside the cached range and for fractions', () => {
  for (const ms of [-1, -86_400_001, 1.5, 1700000000000.9, 253402300800000, 8.64e15, -8.64e15]) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  assert.throws(() => isoTime(Number.NaN), RangeError);
  assert.throws(() => isoTime(8.64e15 + 1), RangeError);
});

test('isoTime of random times in 1970-9999 matches toISOString', () => {
  let seed = 1;
  for (let i = 0; i < 20000; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const ms = Math.floor((seed / 2147483648) * 253402300799999);
    assert.equal(isoTime(ms), new Date(ms).toISOString());
  }
});
