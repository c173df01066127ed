/**
 * The contract every replay cache (`ReplayCache` in src/backend/replay-cache.ts) passes, run
 * against the memory cache and against real Redis (random key prefix, removed at the end).
 * Expiry runs on the real clock, because Redis' clock is the one that expires keys.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createMemoryReplayCache, type ReplayCache } from '../../src/backend/index.js';
import { createRedisReplayCache, replayKey, type RedisReplayCache } from '../../src/stores/redis.js';
import { adminClient, dropPrefix, keysUnder, REDIS_URL, testPrefix } from '../limit/redis-env.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1_000);

/** Registers the contract for the caches `make()` returns (a fresh one per test). */
function replayCacheContract(name: string, make: () => ReplayCache): void {
  describe(`replay cache contract: ${name}`, () => {
    it('a new id is not a replay; the same id again is, every time until it expires', async () => {
      const cache = make();
      const jti = randomUUID();
      const exp = nowSeconds() + 60;
      assert.equal(await cache.seen(jti, exp), false, 'first use');
      assert.equal(await cache.seen(jti, exp), true, 'second use');
      assert.equal(await cache.seen(jti, exp + 30), true, 'a later expiry does not make it new again');
    });

    it('ids are independent: remembering one does not refuse another', async () => {
      const cache = make();
      const exp = nowSeconds() + 60;
      const ids = Array.from({ length: 50 }, () => randomUUID());
      for (const id of ids) assert.equal(await cache.seen(id, exp), false);
      for (const id of ids) assert.equal(await cache.seen(id, exp), true);
    });

    it('of 20 concurrent uses of one id, exactly one is told it is new', async () => {
      const cache = make();
      const jti = randomUUID();
      const answers = await Promise.all(Array.from({ length: 20 }, () => cache.seen(jti, nowSeconds() + 60)));
      assert.equal(answers.filter((replay) => !replay).length, 1);
    });

    it('an id whose expiry has already passed is not kept (the verifier refuses such an assertion anyway)', async () => {
      const cache = make();
      const jti = randomUUID();
      assert.equal(await cache.seen(jti, nowSeconds() - 10), false);
      assert.equal(await cache.seen(jti, nowSeconds() - 10), false);
    });

    it('remembers an id until its expiresAt, and forgets it after', async () => {
      const cache = make();
      const jti = randomUUID();
      const exp = nowSeconds() + 1;
      assert.equal(await cache.seen(jti, exp), false);
      const deadline = Date.now() + 4_000;
      let forgottenAt: number | undefined;
      while (forgottenAt === undefined && Date.now() < deadline) {
        const replay = await cache.seen(jti, exp);
        const at = Date.now();
        if (!replay) forgottenAt = at;
        else await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(forgottenAt !== undefined, 'the id was still remembered 3 s after its expiry');
      assert.ok(forgottenAt >= exp * 1_000, `forgotten ${exp * 1_000 - forgottenAt} ms before its expiry`);
    });
  });
}

const prefix = testPrefix();
let admin: Redis;
const caches: RedisReplayCache[] = [];

before(async () => {
  admin = await adminClient();
});
after(async () => {
  await Promise.all(caches.map((c) => c.close()));
  if (admin !== undefined) {
    await dropPrefix(admin, prefix);
    admin.disconnect();
  }
});

replayCacheContract('memory', () => createMemoryReplayCache());

replayCacheContract('redis', () => {
  const cache = createRedisReplayCache(REDIS_URL, { keyPrefix: prefix });
  caches.push(cache);
  // The first command of a fresh connection must not race its connect (commands are not queued).
  const connected = cache.waitConnected(2_000);
  return {
    seen: async (jti, exp) => {
      assert.equal(await connected, true, `the replay cache could not connect to ${REDIS_URL}`);
      return cache.seen(jti, exp);
    },
  };
});

describe('redis replay cache: keys', () => {
  it('one key per id: under the prefix, the id hashed inside a {hash tag}, value 1, expiring at the given time', async () => {
    const cache = createRedisReplayCache(REDIS_URL, { keyPrefix: prefix });
    caches.push(cache);
    assert.equal(await cache.waitConnected(2_000), true);
    const jti = `odd {id} ${randomUUID()}`;
    const exp = nowSeconds() + 45;
    await cache.seen(jti, exp);
    const key = replayKey(prefix, jti);
    assert.match(key.slice(prefix.length), /^\{[A-Za-z0-9_-]{43}\}$/, 'the hash tag is the whole, well-formed suffix');
    assert.ok(!key.includes('odd'), 'the raw id is not in the key');
    assert.deepEqual(await keysUnder(admin, key), [key]);
    assert.equal(await admin.get(key), '1');
    assert.equal(await admin.call('EXPIRETIME', key), exp, 'EXAT: the key expires with the assertion');
  });

  it('a fractional expiry is rounded up: the key never expires before the assertion', async () => {
    const cache = createRedisReplayCache(REDIS_URL, { keyPrefix: prefix });
    caches.push(cache);
    assert.equal(await cache.waitConnected(2_000), true);
    const jti = randomUUID();
    const exp = nowSeconds() + 30;
    await cache.seen(jti, exp + 0.25);
    assert.equal(await admin.call('EXPIRETIME', replayKey(prefix, jti)), exp + 1);
  });

  it('works on a client passed in, and leaves that client open on close', async () => {
    const cache = createRedisReplayCache(admin, { keyPrefix: prefix });
    assert.equal(await cache.waitConnected(100), true);
    const jti = randomUUID();
    assert.equal(await cache.seen(jti, nowSeconds() + 30), false);
    assert.equal(await cache.seen(jti, nowSeconds() + 30), true);
    await cache.close();
    assert.equal(await admin.ping(), 'PONG');
  });
});
