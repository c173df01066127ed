import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { periodOf } from '../../src/limit/periods.js';
import { createMemoryLimitStore } from '../../src/stores/memory-limits.js';
import { send } from '../e2e/bounded-client.js';
import { assertDenied, manualClock } from '../e2e/e2e-env.js';
import { countingStore, EventCount } from './counting-store.js';
import { sample, startLimitEnv, type LimitEnv } from './limit-env.js';

// The limit stage on HTTP routes, through a real gateway with the memory store: what a client
// sees (429, Retry-After, RateLimit fields, the denial body), what the backend sees (nothing
// past the limit), and what the audit trail and metrics say. The gateway and the IdP run on a
// clock that does not move (6 h before a UTC midnight), so every window and Retry-After is exact;
// what happens after a response ends (a slot released, a reported cost charged) is waited for
// through the store, not slept for.

const clock = manualClock(Date.UTC(2030, 0, 15, 18, 0, 0));
const store = countingStore(createMemoryLimitStore());

/** Responses the `conc` backend holds until the test lets them go, and how many it has received. */
const held: ServerResponse[] = [];
const arrived = new EventCount();
const releaseHeld = () => {
  for (const res of held.splice(0)) if (!res.destroyed) res.end('{"ok":true}');
};

let env: LimitEnv | undefined;
before(async () => {
  env = await startLimitEnv({
    now: clock.now,
    limitStore: store,
    routes: ['rate', 'quota', 'conc', 'spoof'],
    limits: {
      rules: [
        { id: 'per-user', match: { routes: ['rate'] }, key: ['user'], rate: { limit: 3, windowSeconds: 60 } },
        { id: 'spoof-rate', match: { routes: ['spoof'] }, key: ['user', 'tenant', 'client'], rate: { limit: 2, windowSeconds: 60 } },
        { id: 'daily', match: { routes: ['quota'] }, quota: { limit: 10, period: 'day' } },
        { id: 'two-at-once', match: { routes: ['conc'] }, concurrency: 2 },
      ],
      costs: { tools: {}, header: 'X-Cost' },
    },
    respond: (req, res) => {
      if (req.url?.startsWith('/conc/fail')) return void res.socket?.destroy();
      if (req.url?.startsWith('/conc')) {
        held.push(res.writeHead(200, { 'content-type': 'application/json' }));
        return arrived.bump();
      }
      res.writeHead(200, { 'content-type': 'application/json', ...(req.url?.startsWith('/quota') ? { 'x-cost': '4' } : {}) });
      res.end('{"ok":true}');
    },
  });
});
after(async () => {
  releaseHeld();
  await env?.close();
});

/** The running env (`before` has started it). */
function gw(): LimitEnv {
  assert.ok(env, 'the limit env did not start');
  return env;
}

describe('rate limit on an HTTP route', () => {
  it('serves `limit` calls with RateLimit fields, then answers 429 with Retry-After; the backend never sees the refused call', async () => {
    // Unauthenticated requests stop at authenticate: they are not counted against anyone.
    for (let i = 0; i < 4; i++) assert.equal((await send(gw().url, { path: '/api/rate/x' })).status, 401);
    const auth = await gw().auth('alice');
    const before = gw().backend.seen.length;
    for (let i = 1; i <= 3; i++) {
      const ok = await send(gw().url, { path: '/api/rate/x', headers: auth });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.headers['ratelimit-policy'], '"per-user";q=3;w=60');
      assert.equal(ok.headers['ratelimit'], `"per-user";r=${3 - i};t=${20 * i}`, `call ${i}`);
    }
    const refused = await send(gw().url, { path: '/api/rate/x', headers: auth });
    const requestId = assertDenied(refused, 429, 'rate-limited', 'the fourth call');
    assert.equal(refused.headers['retry-after'], '20', 'one call per 20 s comes back');
    assert.equal(refused.headers['ratelimit-policy'], '"per-user";q=3;w=60');
    assert.equal(refused.headers['ratelimit'], '"per-user";r=0;t=20');
    assert.equal(gw().backend.seen.length, before + 3, 'the refused call did not reach the backend');

    const record = (await gw().auditRecords()).findLast((r) => r.requestId === requestId);
    assert.ok(record, 'the refusal is audited');
    assert.deepEqual([record.decision, record.reason, record.ruleId, record.status, record.user, record.route], ['deny', 'rate-limited', 'per-user', 429, 'alice', 'rate']);
    assert.match(record.detail ?? '', /per-user: rate 3 per 60 s/);

    const metrics = await gw().metrics();
    assert.equal(sample(metrics, 'behalf_limit_decisions_total', { rule: 'per-user', outcome: 'allow' }), 3);
    assert.equal(sample(metrics, 'behalf_limit_decisions_total', { rule: 'per-user', outcome: 'deny' }), 1);
  });

  it('keys come from the verified identity only: forwarding and identity headers do not move a caller to another bucket', async () => {
    const alice = await gw().auth('alice');
    const spoofs = [
      { 'x-forwarded-for': '203.0.113.7' },
      { 'x-forwarded-for': '198.51.100.1, 203.0.113.8', forwarded: 'for=198.51.100.2', 'x-real-ip': '198.51.100.3' },
      { 'x-user-id': 'bob', 'x-tenant-id': 'other', 'x-client-id': 'another-agent' },
    ];
    const statuses: number[] = [];
    for (const extra of [{}, ...spoofs]) statuses.push((await send(gw().url, { path: '/api/spoof/x', headers: { ...alice, ...extra } })).status);
    assert.deepEqual(statuses, [200, 200, 429, 429], 'every request counted in the same bucket: alice');
    // A real other user has a bucket of their own.
    assert.equal((await send(gw().url, { path: '/api/spoof/x', headers: { ...(await gw().auth('bob')), 'x-user-id': 'alice' } })).status, 200);
  });
});

describe('quota with a cost reported by the backend', () => {
  it('charges one unit up front, then what the backend reported; refuses until the next UTC day once used up', async () => {
    const auth = await gw().auth('carol');
    const charged = store.charged.value;
    const first = await send(gw().url, { path: '/api/quota/report', headers: auth });
    assert.equal(first.status, 200);
    const untilTomorrow = (periodOf('day', clock.now()).end - clock.now()) / 1000;
    assert.equal(untilTomorrow, 6 * 3_600);
    assert.equal(first.headers['ratelimit-policy'], '"daily";q=10;w=86400');
    assert.equal(first.headers['ratelimit'], `"daily";r=9;t=${untilTomorrow}`, 'the up-front charge: 1');
    // The reported cost is charged when the response ends, on the gateway's side of it.
    await store.charged.until(charged + 1, 'the first call charged');
    const second = await send(gw().url, { path: '/api/quota/report', headers: auth });
    assert.equal(second.headers['ratelimit'], `"daily";r=5;t=${untilTomorrow}`, 'the first call was charged 4, the second 1 so far');
    await store.charged.until(charged + 2, 'the second call charged');
    assert.equal((await send(gw().url, { path: '/api/quota/report', headers: auth })).status, 200, '8 used: one unit left is enough to start a call');
    await store.charged.until(charged + 3, 'the third call charged');
    const refused = await send(gw().url, { path: '/api/quota/report', headers: auth });
    assertDenied(refused, 429, 'quota-exceeded', '12 of 10 used');
    assert.equal(refused.headers['retry-after'], String(untilTomorrow), 'refused until midnight UTC');
    assert.equal(refused.headers['ratelimit'], `"daily";r=0;t=${untilTomorrow}`);
  });
});

describe('concurrency', () => {
  /** Starts a request whose response the backend holds; resolves once the backend has it. */
  async function hold(headers: Record<string, string>): Promise<{ done: Promise<number>; abort(): void }> {
    const url = new URL(gw().url);
    const count = held.length;
    const seen = arrived.value;
    let abort = () => undefined as void;
    const done = new Promise<number>((resolve) => {
      const req = request({ host: url.hostname, port: url.port, path: '/api/conc/slow', headers, agent: false }, (res) => {
        res.resume();
        res.on('close', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
      abort = () => req.destroy();
    });
    await arrived.until(seen + 1, 'the backend did not get the held request');
    assert.equal(held.length, count + 1);
    return { done, abort };
  }

  it('allows `concurrency` requests in flight; the next gets 429; a finished, aborted or failed request frees its slot', async () => {
    const auth = await gw().auth('mallory');
    const a = await hold(auth);
    const b = await hold(auth);
    const third = await send(gw().url, { path: '/api/conc/slow', headers: auth });
    assertDenied(third, 429, 'concurrency-limited', 'a third request in flight');
    assert.equal(third.headers['retry-after'], '1');
    assert.equal(third.headers['ratelimit-policy'], '"two-at-once";q=2;qu="concurrent-requests"');
    assert.equal(third.headers['ratelimit'], '"two-at-once";r=0');
    assert.equal(held.length, 2, 'the backend saw only two');
    // Another user is not affected.
    const other = await hold(await gw().auth('bob'));

    const released = store.released.value;
    releaseHeld();
    assert.deepEqual(await Promise.all([a.done, b.done, other.done]), [200, 200, 200]);
    await store.released.until(released + 3, 'the three finished requests released');
    // Slots are free again: one aborted by the client, one failed upstream.
    const c = await hold(auth);
    c.abort();
    await store.released.until(released + 4, 'the aborted request released');
    const failed = await send(gw().url, { path: '/api/conc/fail', headers: auth });
    assert.equal(failed.status, 502);
    await store.released.until(released + 5, 'the failed request released');
    const d = await hold(auth);
    const e = await hold(auth);
    assertDenied(await send(gw().url, { path: '/api/conc/slow', headers: auth }), 429, 'concurrency-limited', 'two held again');
    releaseHeld();
    assert.deepEqual(await Promise.all([d.done, e.done]), [200, 200]);
  });
});
