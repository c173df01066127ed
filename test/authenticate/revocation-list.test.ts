/**
 * The revocation list: what a revocation refuses (user tokens issued before it, every token with
 * allTokens, one jti, one client, one issuer), how fast another instance learns of it through
 * Redis, and what happens when Redis goes away (deny by default, recovery by itself).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Identity } from '../../src/authenticate/identity.js';
import { createRevocationList } from '../../src/authenticate/revocation-list.js';
import { validateConfig } from '../../src/config/load.js';
import type { RevocationConfig } from '../../src/config/schema.js';
import { createMemoryRevocationStore } from '../../src/stores/memory-revocations.js';
import { createRedisRevocationStore } from '../../src/stores/redis-revocations.js';
import { adminClient, keysUnder, REDIS_URL, testPrefix } from '../limit/redis-env.js';
import { startTcpProxy } from '../limit/tcp-proxy.js';

const T0 = 1_800_000_000_000;

function revocationConfig(over: Record<string, unknown> = {}): RevocationConfig {
  const v = validateConfig({ server: { publicUrl: 'http://127.0.0.1:1' }, issuers: [{ id: 'dev', issuer: 'http://idp', audience: 'x', jwksUri: 'http://idp/jwks' }], revocation: over });
  if (!v.ok) throw new Error(v.problems.map((p) => p.message).join('; '));
  return v.config.revocation;
}

function identity(over: Partial<Identity> = {}): Identity {
  return { id: 'bob', issuer: 'http://idp', issuerId: 'dev', roles: [], groups: [], scopes: [], client: 'chatgpt', tokenId: 'jti-1', issuedAt: T0 / 1000 - 60, expiresAt: T0 / 1000 + 3_600, ...over };
}

const until = T0 + 3_600_000;

describe('what a revocation refuses (memory store)', () => {
  const clock = { t: T0 };
  const list = createRevocationList(createMemoryRevocationStore(), { config: revocationConfig(), now: () => clock.t });

  test('a user revocation refuses tokens issued before it, not tokens issued after (signing in again works)', async () => {
    await list.add({ kind: 'user', value: 'bob', at: T0, issuedBefore: T0, until });
    assert.equal(list.check(identity()), 'revoked');
    assert.equal(list.check(identity({ issuedAt: T0 / 1000 })), 'revoked', 'issued at the same second');
    assert.equal(list.check(identity({ issuedAt: T0 / 1000 + 1 })), 'ok');
    assert.equal(list.check(identity({ issuedAt: undefined })), 'revoked', 'a token without iat cannot show it is newer');
    assert.equal(list.check(identity({ id: 'carol' })), 'ok');
    assert.ok(await list.remove('user', 'bob', undefined));
    assert.equal(list.check(identity()), 'ok');
  });

  test('allTokens refuses every token of the user until the revocation ends', async () => {
    await list.add({ kind: 'user', value: 'bob', at: T0, until });
    assert.equal(list.check(identity({ issuedAt: T0 / 1000 + 600 })), 'revoked');
    clock.t = until;
    assert.equal(list.check(identity({ issuedAt: T0 / 1000 + 600 })), 'ok', 'past its end');
    clock.t = T0;
    await list.remove('user', 'bob', undefined);
  });

  test('a token revocation refuses that jti only; a client revocation every user of that client', async () => {
    await list.add({ kind: 'token', value: 'jti-1', at: T0, until });
    assert.equal(list.check(identity()), 'revoked');
    assert.equal(list.check(identity({ tokenId: 'jti-2' })), 'ok');
    assert.equal(list.check(identity({ tokenId: undefined })), 'ok');
    await list.remove('token', 'jti-1', undefined);
    await list.add({ kind: 'client', value: 'chatgpt', at: T0, issuedBefore: T0, until });
    assert.equal(list.check(identity({ id: 'alice' })), 'revoked');
    assert.equal(list.check(identity({ client: 'claude' })), 'ok');
    assert.equal(list.check(identity({ client: undefined })), 'ok');
    await list.remove('client', 'chatgpt', undefined);
  });

  test('an issuer-scoped revocation leaves the same id from another issuer alone', async () => {
    await list.add({ kind: 'user', value: 'bob', issuer: 'dev', at: T0, until });
    assert.equal(list.check(identity()), 'revoked');
    assert.equal(list.check(identity({ issuerId: 'partner' })), 'ok');
    await list.remove('user', 'bob', 'dev');
    assert.equal(list.check(identity()), 'ok');
    assert.equal(list.size, 0);
  });

  test("another issuer's user is revoked by her qualified id or by her own id with the issuer, never by a plain id alone", async () => {
    const partnerBob = identity({ id: 'partner:bob', subject: 'bob', issuerId: 'partner', issuer: 'http://partner' });
    await list.add({ kind: 'user', value: 'bob', at: T0, until });
    assert.equal(list.check(identity()), 'revoked', 'the home issuer’s bob');
    assert.equal(list.check(partnerBob), 'ok', 'a plain id names the home issuer’s user only');
    await list.remove('user', 'bob', undefined);
    await list.add({ kind: 'user', value: 'partner:bob', at: T0, until });
    assert.equal(list.check(partnerBob), 'revoked');
    assert.equal(list.check(identity()), 'ok');
    await list.remove('user', 'partner:bob', undefined);
    await list.add({ kind: 'user', value: 'bob', issuer: 'partner', at: T0, until });
    assert.equal(list.check(partnerBob), 'revoked');
    assert.equal(list.check(identity()), 'ok');
    await list.remove('user', 'bob', 'partner');
    assert.equal(list.size, 0);
  });

  test('the memory store is always fresh', () => {
    assert.equal(list.fresh, true);
    clock.t = T0 + 86_400_000;
    assert.equal(list.check(identity()), 'ok');
    clock.t = T0;
  });
});

describe('revocations shared through Redis', () => {
  const prefix = testPrefix();
  after(async () => {
    const redis = await adminClient();
    const keys = await keysUnder(redis, prefix);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const until = (): number => Date.now() + 3_600_000;
  const waitFor = async (what: string, ok: () => boolean, ms = 2_000) => {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  test('a revocation made on one instance is enforced by the other within syncMs, and lifted the same way', async () => {
    const config = revocationConfig({ store: REDIS_URL, syncMs: 100 });
    const a = createRevocationList(createRedisRevocationStore(REDIS_URL, { keyPrefix: `${prefix}a:` }), { config });
    const b = createRevocationList(createRedisRevocationStore(REDIS_URL, { keyPrefix: `${prefix}a:` }), { config });
    a.start();
    b.start();
    try {
      await waitFor('both synced once', () => a.fresh && b.fresh);
      const now = Date.now();
      await a.add({ kind: 'user', value: 'bob', at: now, until: until() });
      const bob = identity({ issuedAt: Math.floor(now / 1000) - 1 });
      assert.equal(a.check(bob), 'revoked', 'the instance that made it enforces it at once');
      const started = Date.now();
      await waitFor('the other instance enforces it', () => b.check(bob) === 'revoked', 1_000);
      assert.ok(Date.now() - started < 1_000);
      await b.remove('user', 'bob', undefined);
      await waitFor('lifted on the first instance', () => a.check(bob) === 'ok', 1_000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('Redis down: checks deny (503 in the gateway) once the copy is older than maxStalenessMs, a known revocation stays revoked, and all recovers by itself', async () => {
    const proxy = await startTcpProxy(REDIS_URL);
    const errors: number[] = [];
    const staleness: boolean[] = [];
    const config = revocationConfig({ store: proxy.url, syncMs: 50, maxStalenessMs: 300 });
    const list = createRevocationList(createRedisRevocationStore(proxy.url, { keyPrefix: `${prefix}down:`, commandTimeoutMs: 100 }), {
      config,
      hooks: { onStoreError: () => errors.push(1), onStale: (s) => staleness.push(s) },
    });
    list.start();
    try {
      await waitFor('first sync', () => list.fresh);
      await list.add({ kind: 'token', value: 'stolen', at: Date.now(), until: until() });
      proxy.cut();
      await waitFor('stale after maxStalenessMs', () => !list.fresh, 3_000);
      assert.equal(list.check(identity({ tokenId: 'fine' })), 'unavailable');
      assert.equal(list.check(identity({ tokenId: 'stolen' })), 'revoked');
      assert.ok(errors.length > 0, 'store errors were counted');
      proxy.restore();
      await waitFor('fresh again', () => list.fresh, 5_000);
      assert.equal(list.check(identity({ tokenId: 'fine' })), 'ok');
      assert.equal(list.check(identity({ tokenId: 'stolen' })), 'revoked');
      assert.deepEqual(staleness, [false, true, false]);
    } finally {
      await list.close();
      await proxy.close();
    }
  });

  test('with onStoreError: allow, a stale copy still refuses what it knows and lets the rest through', async () => {
    const proxy = await startTcpProxy(REDIS_URL);
    const config = revocationConfig({ store: proxy.url, syncMs: 50, maxStalenessMs: 200, onStoreError: 'allow' });
    const list = createRevocationList(createRedisRevocationStore(proxy.url, { keyPrefix: `${prefix}allow:`, commandTimeoutMs: 100 }), { config });
    list.start();
    try {
      await waitFor('first sync', () => list.fresh);
      await list.add({ kind: 'user', value: 'mallory', at: Date.now(), until: until() });
      proxy.cut();
      await waitFor('stale', () => !list.fresh, 3_000);
      assert.equal(list.check(identity()), 'ok');
      assert.equal(list.check(identity({ id: 'mallory' })), 'revoked');
    } finally {
      await list.close();
      await proxy.close();
    }
  });

  test('Redis unreachable from the start: nothing is trusted until the first sync', async () => {
    const config = revocationConfig({ store: 'redis://127.0.0.1:1/0' });
    const list = createRevocationList(createRedisRevocationStore('redis://127.0.0.1:1/0', { connectTimeoutMs: 100 }), { config });
    list.start();
    try {
      assert.equal(list.fresh, false);
      assert.equal(list.check(identity()), 'unavailable');
    } finally {
      await list.close();
    }
  });
});
