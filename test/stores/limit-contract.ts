/**
 * The contract every limit store passes (src/stores/types.ts `LimitStore`): run against the
 * memory store and against real Redis. Time is the caller's `now` (ms), so nothing here sleeps:
 * each test moves its own clock. Each test uses buckets of its own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { periodOf } from '../../src/limit/periods.js';
import type { LimitStore, RateSpec } from '../../src/stores/types.js';

/** A fixed start on the callers' clock: 2031-01-01T00:00:00Z plus a few seconds. */
const T0 = Date.UTC(2031, 0, 1, 0, 0, 5);

/** A bucket name as the limiter makes them (`<label>:{<hash>}`), unique per call. */
const bucket = (label = 'rule') => `${label}:{${randomUUID()}}`;

/** Registers the contract tests for the store `getStore()` returns (called inside each test). */
export function limitStoreContract(name: string, getStore: () => LimitStore): void {
  describe(`limit store contract: ${name}`, () => {
    describe('rate (GCRA)', () => {
      it('allows exactly `burst` calls at once (burst = limit by default), then refuses with the time until the next unit', async () => {
        const s = getStore();
        const b = bucket();
        const spec: RateSpec = { limit: 5, windowMs: 10_000, burst: 5 };
        const remaining: number[] = [];
        for (let i = 0; i < 5; i++) {
          const o = await s.rate(b, spec, 1, T0);
          assert.equal(o.allowed, true, `call ${i + 1} of 5`);
          remaining.push(o.remaining);
        }
        assert.deepEqual(remaining, [4, 3, 2, 1, 0]);
        const denied = await s.rate(b, spec, 1, T0);
        assert.equal(denied.allowed, false);
        assert.equal(denied.remaining, 0);
        assert.equal(denied.retryAfterMs, 2_000, 'one unit comes back every windowMs / limit = 2 s');
        assert.equal(denied.resetMs, 10_000, 'the bucket is full again after the whole window');
      });

      it('refills one unit per emission interval, not earlier', async () => {
        const s = getStore();
        const b = bucket();
        const spec: RateSpec = { limit: 5, windowMs: 10_000, burst: 5 };
        for (let i = 0; i < 5; i++) await s.rate(b, spec, 1, T0);
        assert.equal((await s.rate(b, spec, 1, T0 + 1_999)).allowed, false);
        const back = await s.rate(b, spec, 1, T0 + 2_000);
        assert.equal(back.allowed, true);
        assert.equal(back.remaining, 0);
        assert.equal((await s.rate(b, spec, 1, T0 + 2_000)).allowed, false);
        // After a whole idle window the bucket is full again.
        const full = await s.rate(b, spec, 1, T0 + 2_000 + 10_000);
        assert.deepEqual([full.allowed, full.remaining], [true, 4]);
      });

      it('over one window allows `burst` at once plus one per interval: limit + burst - 1 calls for a client that keeps trying', async () => {
        const s = getStore();
        const b = bucket();
        const spec: RateSpec = { limit: 10, windowMs: 10_000, burst: 2 };
        let allowed = 0;
        for (let t = 0; t < 10_000; t += 100) {
          for (let k = 0; k < 3; k++) if ((await s.rate(b, spec, 1, T0 + t)).allowed) allowed += 1;
        }
        assert.equal(allowed, 11);
      });

      it('is exact with an emission interval that is not a whole number of ms (3 per second)', async () => {
        const s = getStore();
        const b = bucket();
        const spec: RateSpec = { limit: 3, windowMs: 1_000, burst: 3 };
        for (let i = 0; i < 3; i++) assert.equal((await s.rate(b, spec, 1, T0)).allowed, true, `call ${i + 1} of 3`);
        const denied = await s.rate(b, spec, 1, T0);
        assert.deepEqual([denied.allowed, denied.retryAfterMs], [false, 334]);
        assert.equal((await s.rate(b, spec, 1, T0 + 334)).allowed, true);
      });

      it('a refund gives the unit back; buckets are independent', async () => {
        const s = getStore();
        const [a, other] = [bucket(), bucket()];
        const spec: RateSpec = { limit: 2, windowMs: 60_000, burst: 2 };
        await s.rate(a, spec, 1, T0);
        await s.rate(a, spec, 1, T0);
        assert.equal((await s.rate(a, spec, 1, T0)).allowed, false);
        assert.equal((await s.rate(other, spec, 1, T0)).allowed, true, 'another bucket is not affected');
        await s.refundRate(a, spec, 1, T0);
        assert.equal((await s.rate(a, spec, 1, T0)).allowed, true, 'the refunded unit is usable');
        assert.equal((await s.rate(a, spec, 1, T0)).allowed, false);
        await s.refundRate(bucket(), spec, 1, T0); // refunding an unknown bucket is harmless
      });
    });

    describe('quota', () => {
      it('allows `limit` units per period and starts again at zero on the next UTC period', async () => {
        const s = getStore();
        const b = bucket();
        const end = periodOf('minute', T0).end;
        const late = end - 1;
        const p1 = String(periodOf('minute', late).start);
        const used: number[] = [];
        for (let i = 0; i < 3; i++) {
          const o = await s.quota(b, p1, 3, 1, 1, end - late + 60_000, late);
          assert.equal(o.allowed, true);
          used.push(o.used);
        }
        assert.deepEqual(used, [1, 2, 3]);
        assert.deepEqual(await s.quota(b, p1, 3, 1, 1, end - late + 60_000, late), { allowed: false, used: 3 });
        const p2 = String(periodOf('minute', end).start);
        assert.notEqual(p2, p1, 'the boundary starts a new period');
        assert.deepEqual(await s.quota(b, p2, 3, 1, 1, 60_000, end), { allowed: true, used: 1 });
      });

      it('charges costs above 1, refuses a call that would pass the limit, and charges nothing when it refuses', async () => {
        const s = getStore();
        const b = bucket();
        const q = (cost: number) => s.quota(b, 'p', 10, cost, cost, 60_000, T0);
        assert.deepEqual(await q(4), { allowed: true, used: 4 });
        assert.deepEqual(await q(4), { allowed: true, used: 8 });
        assert.deepEqual(await q(4), { allowed: false, used: 8 });
        assert.deepEqual(await q(2), { allowed: true, used: 10 });
        assert.deepEqual(await q(0), { allowed: true, used: 10 }, 'a free call is always allowed');
        assert.deepEqual(await s.quota(b, 'p', 10, 0, 1, 60_000, T0), { allowed: false, used: 10 }, 'a call that needs one unit left is refused');
      });

      it('adjusts a counter after the fact (the backend reported the cost), never below zero', async () => {
        const s = getStore();
        const b = bucket();
        await s.quota(b, 'p', 10, 1, 1, 60_000, T0);
        assert.equal(await s.addQuota(b, 'p', 4, 60_000, T0), 5);
        assert.equal(await s.addQuota(b, 'p', -2.5, 60_000, T0), 2.5);
        assert.equal(await s.addQuota(b, 'p', -100, 60_000, T0), 0);
        assert.equal(await s.addQuota(b, 'p', 10, 60_000, T0), 10);
        assert.deepEqual(await s.quota(b, 'p', 10, 1, 1, 60_000, T0), { allowed: false, used: 10 });
      });
    });

    describe('concurrency', () => {
      it('holds at most `limit` leases; a release frees a slot; releasing twice or an unknown lease is harmless', async () => {
        const s = getStore();
        const b = bucket();
        assert.deepEqual(await s.acquire(b, 2, 'a', 30_000, T0), { allowed: true, count: 1, retryAfterMs: 0 });
        assert.deepEqual(await s.acquire(b, 2, 'b', 30_000, T0), { allowed: true, count: 2, retryAfterMs: 0 });
        assert.deepEqual(await s.acquire(b, 2, 'c', 30_000, T0), { allowed: false, count: 2, retryAfterMs: 0 });
        await s.release(b, 'a');
        await s.release(b, 'a');
        await s.release(b, 'unknown');
        await s.release(bucket(), 'a');
        assert.equal((await s.acquire(b, 2, 'c', 30_000, T0)).allowed, true);
        assert.equal((await s.acquire(b, 2, 'd', 30_000, T0)).allowed, false);
      });

      it('a lease nobody releases (a crashed instance) expires after leaseMs; a renewed one does not', async () => {
        const s = getStore();
        const b = bucket();
        assert.equal((await s.acquire(b, 1, 'crashed', 1_000, T0)).allowed, true);
        assert.equal((await s.acquire(b, 1, 'next', 1_000, T0 + 999)).allowed, false);
        assert.equal((await s.acquire(b, 1, 'next', 1_000, T0 + 1_000)).allowed, true, 'the expired lease no longer counts');
        assert.equal(await s.renew(b, 'next', 1_000, T0 + 1_900), true);
        assert.equal((await s.acquire(b, 1, 'third', 1_000, T0 + 2_500)).allowed, false, 'renewed until 2 900');
        assert.equal((await s.acquire(b, 1, 'third', 1_000, T0 + 2_900)).allowed, true);
        assert.equal(await s.renew(b, 'next', 1_000, T0 + 2_900), false, 'an expired lease cannot be renewed');
        assert.equal(await s.renew(b, 'never-held', 1_000, T0), false);
      });
    });

    describe('repeat (runaway guard)', () => {
      it('allows `limit` entries within the window, then refuses until the oldest leaves it', async () => {
        const s = getStore();
        const b = bucket('runaway');
        for (let i = 0; i < 3; i++) {
          const o = await s.repeat(b, 3, 10_000, `m${i}`, T0 + i * 1_000);
          assert.deepEqual([o.allowed, o.count], [true, i + 1]);
        }
        const denied = await s.repeat(b, 3, 10_000, 'm3', T0 + 5_000);
        assert.deepEqual(denied, { allowed: false, count: 3, retryAfterMs: 5_000 });
        assert.equal((await s.repeat(b, 3, 10_000, 'm4', T0 + 9_999)).allowed, false, 'a refused call is not recorded and the oldest is still in');
        const later = await s.repeat(b, 3, 10_000, 'm5', T0 + 10_000);
        assert.deepEqual([later.allowed, later.count], [true, 3], 'the first entry left the window at exactly windowMs');
      });

      it('forgetting an entry frees its place; buckets are independent', async () => {
        const s = getStore();
        const [b, other] = [bucket('runaway'), bucket('runaway')];
        await s.repeat(b, 2, 60_000, 'x', T0);
        await s.repeat(b, 2, 60_000, 'y', T0);
        assert.equal((await s.repeat(b, 2, 60_000, 'z', T0)).allowed, false);
        assert.equal((await s.repeat(other, 2, 60_000, 'z', T0)).allowed, true);
        await s.forget(b, 'y');
        await s.forget(b, 'never-recorded');
        assert.equal((await s.repeat(b, 2, 60_000, 'z', T0)).allowed, true);
      });
    });

    it('answers a ping', async () => {
      await getStore().ping();
    });
  });
}
