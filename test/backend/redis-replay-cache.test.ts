/**
 * A backend run as several instances, sharing one Redis replay cache: an assertion accepted by
 * one instance is refused by every other; and when Redis cannot answer, the verifier refuses
 * (fail closed, 503) instead of letting a possible replay through, then recovers by itself.
 * Real HTTP backends, real ES256 assertions, real Redis (random key prefix).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createMemoryReplayCache, createVerifier, isBehalfError, type ReplayCache } from '../../src/backend/index.js';
import { DEFAULT_ASSERTION_HEADER } from '../../src/forward/identity/assertion-claims.js';
import { createAssertionSigner, type AssertionSigner } from '../../src/forward/identity/signed-assertion.js';
import { loadSigningKeys, type SigningKeys } from '../../src/forward/identity/signing-keys.js';
import { createRedisReplayCache, type RedisReplayCache } from '../../src/stores/redis.js';
import { alice, close, listen, send } from '../forward/fixtures.js';
import { adminClient, dropPrefix, REDIS_URL, testPrefix } from '../limit/redis-env.js';
import { startTcpProxy, type TcpProxy } from '../limit/tcp-proxy.js';

const ISSUER = 'https://behalf.example.test';
const AUDIENCE = 'hr-backend';
const PATH = '/v1/reviews/bob';
const BODY = '{"rating":4}';

const prefix = testPrefix();
let admin: Redis;
let dir: string;
let keys: SigningKeys;
let signer: AssertionSigner;
const servers: Server[] = [];
const caches: RedisReplayCache[] = [];

before(async () => {
  admin = await adminClient();
  dir = await mkdtemp(join(tmpdir(), 'behalf-replay-'));
  keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: 'keys.json', rotateAfterDays: 0, overlapSeconds: 3_600 }, { baseDir: dir });
  signer = createAssertionSigner(keys, { issuer: ISSUER });
});
after(async () => {
  await Promise.all(servers.map((s) => close(s)));
  await Promise.all(caches.map((c) => c.close()));
  await rm(dir, { recursive: true, force: true });
  await dropPrefix(admin, prefix);
  admin.disconnect();
});

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** One backend instance as docs/backend.md shows it: 200 with the caller, else the fault code (503 for a store fault, 401 for a bad assertion). */
async function startBackend(replayCache: ReplayCache): Promise<string> {
  const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: keys.publicJwks(), replayCache });
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    try {
      const caller = await verifier.verify(req, body);
      res.writeHead(200).end(caller.user);
    } catch (err) {
      const fault = isBehalfError(err, 'jwks-fetch-failed') || isBehalfError(err, 'replay-cache-failed');
      res.writeHead(fault ? 503 : 401).end(isBehalfError(err) ? err.code : 'crash');
    }
  });
  servers.push(server);
  return listen(server);
}

async function redisCache(url = REDIS_URL, commandTimeoutMs?: number): Promise<RedisReplayCache> {
  const cache = createRedisReplayCache(url, { keyPrefix: prefix, connectTimeoutMs: 500, ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }) });
  caches.push(cache);
  assert.equal(await cache.waitConnected(2_000), true, `the replay cache could not connect to ${url}`);
  return cache;
}

const assertion = (): Promise<string> => signer.sign({ identity: alice, audience: AUDIENCE, method: 'POST', path: PATH, body: Buffer.from(BODY), ttlSeconds: 30 });

async function call(backend: string, token: string): Promise<{ status: number; body: string }> {
  const r = await send(backend, { method: 'POST', path: PATH, headers: { [DEFAULT_ASSERTION_HEADER]: token }, body: BODY });
  return { status: r.status, body: r.body.toString() };
}

describe('two backend instances sharing a Redis replay cache', () => {
  it('an assertion accepted by one instance is refused by the other (and by the first again); a fresh one is accepted by either', async () => {
    const a = await startBackend(await redisCache());
    const b = await startBackend(await redisCache());
    const token = await assertion();
    assert.deepEqual(await call(a, token), { status: 200, body: 'alice' });
    assert.deepEqual(await call(b, token), { status: 401, body: 'assertion-replayed' });
    assert.deepEqual(await call(a, token), { status: 401, body: 'assertion-replayed' });
    assert.deepEqual(await call(b, await assertion()), { status: 200, body: 'alice' });
  });

  it('the same assertion sent to both at the same moment is accepted exactly once', async () => {
    const a = await startBackend(await redisCache());
    const b = await startBackend(await redisCache());
    for (let round = 0; round < 10; round++) {
      const token = await assertion();
      const replies = await Promise.all([call(a, token), call(b, token), call(a, token), call(b, token)]);
      assert.deepEqual(replies.map((r) => r.status).sort(), [200, 401, 401, 401], `round ${round}`);
    }
  });

  it('whereas with a memory cache each, both instances accept the same assertion: why a shared cache is needed', async () => {
    const a = await startBackend(createMemoryReplayCache());
    const b = await startBackend(createMemoryReplayCache());
    const token = await assertion();
    assert.equal((await call(a, token)).status, 200);
    assert.equal((await call(b, token)).status, 200);
  });
});

describe('a replay cache that cannot answer: fail closed', () => {
  let proxy: TcpProxy;
  before(async () => {
    proxy = await startTcpProxy(REDIS_URL);
  });
  after(() => proxy.close());

  it('Redis down: refused with replay-cache-failed (503), never accepted; accepted again once Redis is back', async () => {
    const cache = await redisCache(proxy.url);
    const backend = await startBackend(cache);
    assert.equal((await call(backend, await assertion())).status, 200, 'works while Redis answers');

    proxy.cut();
    const during = await assertion();
    for (let i = 0; i < 3; i++) assert.deepEqual(await call(backend, during), { status: 503, body: 'replay-cache-failed' });

    proxy.restore();
    assert.equal(await cache.waitConnected(3_000), true, 'the cache reconnects by itself');
    assert.deepEqual(await call(backend, during), { status: 200, body: 'alice' }, 'the client retrying after the 503 gets through');
    assert.deepEqual(await call(backend, during), { status: 401, body: 'assertion-replayed' });
  });

  it('Redis not answering (a black hole): refused with replay-cache-failed once the command times out', async () => {
    const cache = await redisCache(proxy.url, 150);
    const backend = await startBackend(cache);
    proxy.blackhole();
    try {
      assert.deepEqual(await call(backend, await assertion()), { status: 503, body: 'replay-cache-failed' });
    } finally {
      proxy.restore();
    }
  });

  it('any cache that throws (not only Redis) refuses the assertion with replay-cache-failed, keeping the cause', async () => {
    const broken: ReplayCache = {
      seen() {
        throw new Error('disk on fire');
      },
    };
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: keys.publicJwks(), replayCache: broken });
    const token = await assertion();
    await assert.rejects(verifier.verify({ method: 'POST', url: PATH, headers: { [DEFAULT_ASSERTION_HEADER.toLowerCase()]: token } }, BODY), (err: unknown) => {
      assert.ok(isBehalfError(err, 'replay-cache-failed'));
      assert.equal(((err as Error).cause as Error).message, 'disk on fire');
      return true;
    });
  });
});
