import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedisLimitStore } from '../../src/stores/redis-limits.js';
import { send, type Reply } from '../e2e/bounded-client.js';
import { assertDenied, sleep } from '../e2e/e2e-env.js';
import { sample, startLimitEnv, type LimitEnv } from './limit-env.js';
import { adminClient, dropPrefix, REDIS_URL, testPrefix } from './redis-env.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

// Redis failing under the limit stage, through a TCP proxy this test cuts and restores (the
// shared Redis itself is never stopped): each check follows `limits.onStoreError`, answers in
// bounded time (no hang on a black hole), raises the alarm, and recovers by itself.

const COMMAND_TIMEOUT_MS = 200;
const prefix = testPrefix();
let admin: Redis;
let proxy: TcpProxy;

before(async () => {
  admin = await adminClient();
  proxy = await startTcpProxy(REDIS_URL);
});
after(async () => {
  await proxy?.close();
  if (admin !== undefined) {
    await dropPrefix(admin, prefix);
    admin.disconnect();
  }
});

/** A gateway whose limit store reaches Redis through the proxy. */
function gatewayThroughProxy(onStoreError: 'deny' | 'allow', rule: string): Promise<LimitEnv> {
  return startLimitEnv({
    routes: ['r'],
    limits: { store: proxy.url, onStoreError, rules: [{ id: rule, rate: { limit: 1_000, windowSeconds: 60 } }] },
    limitStore: createRedisLimitStore(proxy.url, { keyPrefix: prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 500 }),
  });
}

/** Sends until `ok(reply)` or `ms` pass; returns the last reply. */
async function until(env: LimitEnv, auth: Record<string, string>, ok: (r: Reply) => boolean, ms: number): Promise<Reply> {
  const deadline = Date.now() + ms;
  for (;;) {
    const reply = await send(env.url, { path: '/api/r/x', headers: auth });
    if (ok(reply) || Date.now() > deadline) return reply;
    await sleep(50);
  }
}

async function timed(env: LimitEnv, auth: Record<string, string>): Promise<{ reply: Reply; ms: number }> {
  const started = Date.now();
  const reply = await send(env.url, { path: '/api/r/x', headers: auth, timeoutMs: 5_000 });
  return { reply, ms: Date.now() - started };
}

describe('limit store failures', () => {
  it('onStoreError deny: 503 limit-store-unavailable while Redis is cut or silent, in bounded time, audited and alarmed; recovers by itself', async () => {
    const env = await gatewayThroughProxy('deny', 'faults-deny');
    try {
      const auth = await env.auth('alice');
      const ok = await until(env, auth, (r) => r.status === 200, 3_000);
      assert.equal(ok.status, 200, 'Redis reachable: served');
      assert.match(String(ok.headers['ratelimit']), /^"faults-deny";r=999;t=\d+$/);

      proxy.cut();
      const cut = await timed(env, auth);
      const requestId = assertDenied(cut.reply, 503, 'limit-store-unavailable', 'Redis cut');
      assert.equal(cut.reply.headers['retry-after'], '1');
      assert.ok(cut.ms < 1_000, `answered in ${cut.ms} ms`);
      const record = (await env.auditRecords()).findLast((r) => r.requestId === requestId);
      assert.deepEqual([record?.decision, record?.reason, record?.status], ['deny', 'limit-store-unavailable', 503]);
      const metrics = await env.metrics();
      assert.equal(sample(metrics, 'behalf_limit_store_unhealthy', {}), 1, 'the alarm is raised');
      assert.ok(sample(metrics, 'behalf_limit_store_errors_total', {}) >= 1);
      assert.equal(sample(metrics, 'behalf_limit_decisions_total', { rule: 'faults-deny', outcome: 'error' }), 1);
      const ready = await fetch(`${env.url}/readyz`);
      assert.equal(ready.status, 503, '/readyz says the store is unreachable');
      assert.equal(((await ready.json()) as { checks: Record<string, { ok: boolean }> }).checks['limits']?.ok, false);

      proxy.restore();
      const back = await until(env, auth, (r) => r.status === 200, 5_000);
      assert.equal(back.status, 200, 'recovered once Redis is reachable again');
      assert.equal(sample(await env.metrics(), 'behalf_limit_store_unhealthy', {}), 0, 'the alarm is cleared');
      assert.equal((await fetch(`${env.url}/readyz`)).status, 200);

      proxy.blackhole();
      const silent = await timed(env, auth);
      assertDenied(silent.reply, 503, 'limit-store-unavailable', 'Redis silent');
      assert.ok(silent.ms < COMMAND_TIMEOUT_MS + 800, `a silent Redis costs at most the command timeout: ${silent.ms} ms`);
      proxy.restore();
      assert.equal((await until(env, auth, (r) => r.status === 200, 5_000)).status, 200, 'recovered after the black hole');
    } finally {
      proxy.restore();
      await env.close();
    }
  });

  it('onStoreError allow: requests go on without limits while Redis is cut, the record says so, the alarm is raised; limits return with Redis', async () => {
    const env = await gatewayThroughProxy('allow', 'faults-allow');
    try {
      const auth = await env.auth('bob');
      assert.equal((await until(env, auth, (r) => r.status === 200 && r.headers['ratelimit'] !== undefined, 3_000)).status, 200);
      proxy.cut();
      const through = await send(env.url, { path: '/api/r/x', headers: auth });
      assert.equal(through.status, 200, 'allowed without the store');
      assert.equal(through.headers['ratelimit'], undefined, 'no limit state to report');
      const record = (await env.auditRecords()).findLast((r) => r.requestId === through.headers['x-request-id']);
      assert.equal(record?.decision, 'allow');
      assert.match(record?.detail ?? '', /limits not applied \(limits.onStoreError: allow\)/);
      assert.equal(sample(await env.metrics(), 'behalf_limit_store_unhealthy', {}), 1);
      proxy.restore();
      const back = await until(env, auth, (r) => r.headers['ratelimit'] !== undefined, 5_000);
      assert.match(String(back.headers['ratelimit']), /^"faults-allow";r=\d+;t=\d+$/, 'limits apply again');
      assert.equal(sample(await env.metrics(), 'behalf_limit_store_unhealthy', {}), 0);
    } finally {
      proxy.restore();
      await env.close();
    }
  });

  it('Redis unreachable at start (from the config URL): the gateway starts, follows onStoreError, and picks Redis up when it comes', async () => {
    const rule = `faults-start-${randomBytes(4).toString('hex')}`;
    proxy.cut();
    const started = Date.now();
    const env = await startLimitEnv({ routes: ['r'], limits: { store: proxy.url, onStoreError: 'deny', rules: [{ id: rule, rate: { limit: 5, windowSeconds: 60 } }] } });
    try {
      assert.ok(Date.now() - started < 5_000, 'start waits for Redis only a bounded time');
      const auth = await env.auth('carol');
      assertDenied(await send(env.url, { path: '/api/r/x', headers: auth }), 503, 'limit-store-unavailable', 'no Redis yet');
      proxy.restore();
      const back = await until(env, auth, (r) => r.status === 200, 5_000);
      assert.equal(back.status, 200);
      assert.equal(back.headers['ratelimit-policy'], `"${rule}";q=5;w=60`);
    } finally {
      proxy.restore();
      await env.close();
      // This gateway used the default key prefix: remove what its rule wrote.
      await dropPrefix(admin, `behalf:limit:${rule}:`);
    }
  });
});
