import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createMemoryLimitStore } from '../../src/stores/memory-limits.js';
import { limitStoreContract } from './limit-contract.js';

const store = createMemoryLimitStore();
after(() => store.close());
limitStoreContract('memory', () => store);

describe('memory limit store: bounds', () => {
  it('keeps at most maxEntries buckets: the one untouched the longest restarts from zero', async () => {
    const s = createMemoryLimitStore({ maxEntries: 3 });
    const spec = { limit: 1, windowMs: 60_000, burst: 1 };
    for (const b of ['a', 'b', 'c']) assert.equal((await s.rate(b, spec, 1, 0)).allowed, true);
    assert.equal((await s.rate('a', spec, 1, 0)).allowed, false, 'a is still counted');
    await s.rate('d', spec, 1, 0); // the map is full: b (untouched the longest) goes
    assert.equal((await s.rate('c', spec, 1, 0)).allowed, false, 'c is still counted');
    assert.equal((await s.rate('b', spec, 1, 0)).allowed, true, 'b was dropped to make room');
    await s.close();
  });

  it('drops expired entries before live ones when full', async () => {
    const s = createMemoryLimitStore({ maxEntries: 2 });
    const spec = { limit: 1, windowMs: 1_000, burst: 1 };
    await s.rate('short', spec, 1, 0);
    await s.rate('long', { limit: 1, windowMs: 60_000, burst: 1 }, 1, 0);
    await s.rate('new', spec, 1, 5_000); // 'short' expired at 1 000: it makes room, 'long' stays
    assert.equal((await s.rate('long', { limit: 1, windowMs: 60_000, burst: 1 }, 1, 5_000)).allowed, false);
    await s.close();
  });
});
