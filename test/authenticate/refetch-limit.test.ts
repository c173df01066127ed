import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RefetchLimit } from '../../src/authenticate/refetch-limit.js';

describe('RefetchLimit', () => {
  it('spaces every fetch by minIntervalMs, whatever its cause', () => {
    let now = 1_000_000;
    const limit = new RefetchLimit({ minIntervalMs: 1_000, perMinute: 10, now: () => now });
    assert.equal(limit.waitMs('load'), 0);
    limit.started('load');
    assert.equal(limit.waitMs('load'), 1_000);
    assert.equal(limit.waitMs('age'), 1_000);
    assert.equal(limit.waitMs('token'), 1_000);
    now += 400;
    assert.equal(limit.waitMs('token'), 600);
    now += 600;
    assert.equal(limit.waitMs('token'), 0);
  });

  it('lets tokens cause perMinute fetches at once, then one per 60 s / perMinute; other causes spend nothing', () => {
    let now = 1_000_000;
    const limit = new RefetchLimit({ minIntervalMs: 0, perMinute: 4, now: () => now });
    for (let n = 0; n < 4; n++) {
      assert.equal(limit.waitMs('token'), 0, `fetch ${n}`);
      limit.started('token');
    }
    assert.equal(limit.waitMs('token'), 15_000);
    assert.equal(limit.waitMs('load'), 0, 'a fetch with no keys does not draw on the flood bound');
    limit.started('age');
    assert.equal(limit.waitMs('token'), 15_000);
    now += 15_000;
    assert.equal(limit.waitMs('token'), 0);
    limit.started('token');
    assert.equal(limit.waitMs('token'), 15_000);
    now += 10 * 60_000;
    for (let n = 0; n < 4; n++) limit.started('token');
    assert.equal(limit.waitMs('token'), 15_000, 'credits never pile up beyond perMinute');
  });
});
