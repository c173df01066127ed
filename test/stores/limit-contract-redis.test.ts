import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis as RedisClient, type Redis } from 'ioredis';
import { isBehalfError } from '../../src/errors.js';
import { createRedisLimitStore, type RedisLimitStore } from '../../src/stores/redis-limits.js';
import { adminClient, dropPrefix, keysUnder, REDIS_URL, startPrivateRedis, testPrefix } from '../limit/redis-env.js';
import { limitStoreContract } from './limit-contract.js';

const prefix = testPrefix();
let admin: Redis;
let store: RedisLimitStore;

before(async () => {
  admin = await adminClient();
  store = createRedisLimitStore(REDIS_URL, { keyPrefix: prefix });
  assert.equal(await store.waitConnected(2_000), true, `the limit store could not connect to ${REDIS_URL}`);
});
after(async () => {
  await store?.close();
  if (admin !== undefined) {
    await dropPrefix(admin, prefix);
    admin.disconnect();
  }
});

limitStoreContract('redis', () => store);

describe('redis limit store: keys', () => {
  it('every key has a TTL, lives under the prefix and carries its bucket hash tag (one Cluster slot per bucket)', async () => {
    const b = 'shape:{abcDEF123_-}';
    const now = Date.now();
    await store.rate(b, { limit: 3, windowMs: 60_000, burst: 3 }, 1, now);
    await store.quota(b, '1000', 5, 1, 1, 120_000, now);
    await store.acquire(b, 2, 'lease-1', 30_000, now);
    await store.repeat(b, 3, 10_000, 'm1', now);
    const keys = (await keysUnder(admin, prefix)).filter((k) => k.includes('shape:'));
    assert.deepEqual(keys.sort(), [`${prefix}${b}:lease`, `${prefix}${b}:quota:1000`, `${prefix}${b}:rate`, `${prefix}${b}:repeat`].sort());
    for (const k of keys) {
      const ttl = await admin.pttl(k);
      assert.ok(ttl > 0, `${k} has no TTL (${ttl})`);
      assert.equal(/\{([^}]*)\}/.exec(k)?.[1], 'abcDEF123_-', `${k}: hash tag`);
    }
    assert.ok((await admin.pttl(`${prefix}${b}:rate`)) <= 20_000, 'a rate key lives only until the bucket is full again');
  });

  it('a quota adjustment and a lease renewal keep the TTL', async () => {
    const b = 'ttl:{x1}';
    const now = Date.now();
    await store.addQuota(b, 'p', 3, 90_000, now);
    await store.addQuota(b, 'p', -10, 90_000, now);
    await store.acquire(b, 1, 'l', 5_000, now);
    await store.renew(b, 'l', 5_000, now + 1_000);
    assert.ok((await admin.pttl(`${prefix}${b}:quota:p`)) > 60_000);
    const leaseTtl = await admin.pttl(`${prefix}${b}:lease`);
    assert.ok(leaseTtl > 4_000 && leaseTtl <= 5_000, `lease key TTL ${leaseTtl}: the renewed lease's 5 s`);
  });

  it('keeps working after the server forgot its scripts (EVALSHA falls back to EVAL)', async () => {
    // SCRIPT FLUSH empties the cache of every client of a server: done on a server of this test's own.
    const own = await startPrivateRedis();
    const s = createRedisLimitStore(own.url, { keyPrefix: prefix });
    try {
      assert.equal(await s.waitConnected(2_000), true);
      const spec = { limit: 2, windowMs: 60_000, burst: 2 };
      assert.equal((await s.rate('flush:{y}', spec, 1, Date.now())).allowed, true);
      const other = new RedisClient(own.url, { maxRetriesPerRequest: 0 });
      await other.script('FLUSH');
      other.disconnect();
      const after = await s.rate('flush:{y}', spec, 1, Date.now());
      assert.deepEqual([after.allowed, after.remaining], [true, 0], 'the script ran again, on the same bucket');
    } finally {
      await s.close();
      await own.stop();
    }
  });
});

describe('redis limit store: unreachable', () => {
  // How long such a rejection takes is measured by the benchmarks (bench/README.md, "(l)"), not here.
  it('rejects with limit-store-failed when nothing listens, because the check is not queued for a connection that is down', async () => {
    const dead = createRedisLimitStore('redis://127.0.0.1:1/0', { keyPrefix: prefix, connectTimeoutMs: 200 });
    try {
      assert.equal(await dead.waitConnected(100), false);
      const notQueued = (err: unknown) => isBehalfError(err, 'limit-store-failed') && /enableOfflineQueue/.test(err.message);
      await assert.rejects(dead.rate('d:{z}', { limit: 1, windowMs: 1_000, burst: 1 }, 1, Date.now()), notQueued);
      await assert.rejects(dead.ping(), notQueued);
    } finally {
      await dead.close();
    }
  });
});
