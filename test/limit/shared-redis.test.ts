import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { createRedisLimitStore } from '../../src/stores/redis-limits.js';
import { send } from '../e2e/bounded-client.js';
import { assertDenied, sleep, startQuietIdp } from '../e2e/e2e-env.js';
import { startLimitEnv, type LimitEnv } from './limit-env.js';
import { adminClient, dropPrefix, REDIS_URL, testPrefix } from './redis-env.js';

// Two gateways behind one (imaginary) load balancer share Redis: a user's limit is one limit.
// A per-user limit of N per minute allows N calls across both, not 2N; a concurrency slot
// taken on one is taken for the other.

const AUDIENCE = 'http://gateway.lb.example';
const prefix = testPrefix();
const held: ServerResponse[] = [];
let admin: Redis;
let idp: DevIdp;
let gw: LimitEnv[] = [];

before(async () => {
  admin = await adminClient();
  idp = await startQuietIdp(AUDIENCE);
  const start = () =>
    startLimitEnv({
      routes: ['api', 'slow'],
      limits: {
        store: REDIS_URL,
        rules: [
          { id: 'four-a-minute', match: { routes: ['api'] }, rate: { limit: 4, windowSeconds: 60 } },
          { id: 'one-at-a-time', match: { routes: ['slow'] }, concurrency: 1 },
        ],
      },
      respond: (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        if (req.url?.startsWith('/slow')) held.push(res);
        else res.end('{"ok":true}');
      },
      limitStore: createRedisLimitStore(REDIS_URL, { keyPrefix: prefix }),
      shared: { idp, audience: AUDIENCE },
    });
  gw = [await start(), await start()];
});
after(async () => {
  for (const res of held.splice(0)) res.end('{}');
  for (const g of gw) await g.close();
  await idp?.close();
  if (admin !== undefined) {
    await dropPrefix(admin, prefix);
    admin.disconnect();
  }
});

/** Waits until the backend holds a request; false when none came within a second. */
async function backendHolds(): Promise<boolean> {
  for (let i = 0; i < 200 && held.length === 0; i++) await sleep(5);
  return held.length > 0;
}

describe('two gateways sharing Redis', () => {
  it('a per-user limit of 4 per minute allows 4 calls in total across both gateways', async () => {
    const auth = await gw[0]!.auth('alice');
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      const reply = await send(gw[i % 2]!.url, { path: '/api/api/x', headers: auth });
      seen.push(reply.status === 200 ? `200 ${reply.headers['ratelimit']}` : String(reply.status));
    }
    assert.deepEqual(seen, [
      '200 "four-a-minute";r=3;t=15',
      '200 "four-a-minute";r=2;t=30',
      '200 "four-a-minute";r=1;t=45',
      '200 "four-a-minute";r=0;t=60',
      '429',
      '429',
      '429',
      '429',
    ]);
    assert.equal(gw[0]!.backend.seen.length + gw[1]!.backend.seen.length, 4, 'the backends got 4 calls between them');
    assertDenied(await send(gw[1]!.url, { path: '/api/api/x', headers: auth }), 429, 'rate-limited', 'still limited on the other instance');
    const bob = await gw[1]!.auth('bob');
    assert.equal((await send(gw[0]!.url, { path: '/api/api/x', headers: bob })).status, 200, 'another user has his own limit');
  });

  it('a concurrency slot taken on one gateway is taken on the other, and freed for both when the response ends', async () => {
    const auth = await gw[0]!.auth('carol');
    const first = send(gw[0]!.url, { path: '/api/slow/x', headers: auth });
    assert.ok(await backendHolds(), 'the first request reached the backend');
    assertDenied(await send(gw[1]!.url, { path: '/api/slow/x', headers: auth }), 429, 'concurrency-limited', 'the slot is taken on the other gateway');
    held.shift()!.end('{"ok":true}');
    assert.equal((await first).status, 200);
    // The release goes to Redis as the response ends, on the first gateway's connection: allow
    // it a moment to land before the other gateway's next check.
    let second: Promise<{ status: number }> | undefined;
    for (let attempt = 0; attempt < 40 && second === undefined; attempt++) {
      const trying = send(gw[1]!.url, { path: '/api/slow/x', headers: auth });
      const outcome = await Promise.race([trying.then(() => 'answered' as const), backendHolds().then((h) => (h ? ('held' as const) : ('answered' as const)))]);
      if (outcome === 'held') second = trying;
      else assert.equal((await trying).status, 429);
    }
    assert.ok(second !== undefined, 'the slot was freed: the other gateway serves');
    held.shift()!.end('{"ok":true}');
    assert.equal((await second).status, 200);
  });
});
