/**
 * The gateway with `audit.store: postgres://...`: two gateways share one trail, and a
 * PostgreSQL outage makes writes fail closed (503, never forwarded) until it comes back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Gateway } from '../../src/gateway.js';
import { openPostgresAuditStore } from '../../src/stores/postgres-audit-store.js';
import { startAnyoneGateway, useAliceFixture } from '../e2e/harness.js';
import { all } from './helpers.js';
import { freshSchema, startPgProxy, viaPort } from './postgres-helpers.js';

const fx = useAliceFixture('behalf-pg-gateway-');

/** A gateway whose audit store is `store`, routing /api to the recording backend for anyone. */
function gatewayOn(store: string, name: string, spool = true): Promise<{ gateway: Gateway; url: string }> {
  return startAnyoneGateway(fx, name, { store, spool: { enabled: spool } });
}

/** Status and request id as the client sees them (status 0: no complete answer). */
async function call(url: string, method: 'GET' | 'POST'): Promise<{ status: number; requestId?: string }> {
  try {
    const res = await fetch(`${url}/api/items`, {
      method,
      headers: { authorization: `Bearer ${await fx.idp.mint('alice')}`, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: '{"name":"x"}' } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return { status: res.status, requestId: res.headers.get('x-request-id') ?? undefined };
  } catch {
    return { status: 0 };
  }
}

test('two gateways on one PostgreSQL trail: every answered request has its record, and the trail verifies as one chain', async () => {
  const { url } = await freshSchema();
  const a = await gatewayOn(url, 'a');
  const b = await gatewayOn(url, 'b');
  const answered: string[] = [];
  try {
    for (let round = 0; round < 6; round++) {
      const replies = await Promise.all([call(a.url, 'POST'), call(b.url, 'POST'), call(a.url, 'GET'), call(b.url, 'GET')]);
      for (const r of replies) {
        assert.equal(r.status, 200);
        answered.push(r.requestId!);
      }
    }
  } finally {
    await a.gateway.close();
    await b.gateway.close();
  }
  const reader = await openPostgresAuditStore(url, { readOnly: true });
  const records = await all(reader);
  const outcomes = records.filter((r) => r.phase !== 'intent');
  assert.deepEqual(outcomes.map((r) => r.requestId).sort(), [...answered].sort(), 'every answered request, once');
  assert.equal(records.filter((r) => r.phase === 'intent').length, 12, 'every POST, its intent before it was forwarded');
  assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 36 }, (_, i) => i + 1));
  assert.deepEqual(await reader.verify(), { ok: true, records: 36 });
  await reader.close();
});

test('PostgreSQL down, no spool: writes fail closed with 503 and never reach the backend; the gateway recovers when it returns', async () => {
  const { url } = await freshSchema();
  const proxy = await startPgProxy();
  const u = new URL(viaPort(url, proxy.port));
  u.searchParams.set('connect_timeout', '1');
  u.searchParams.set('statement_timeout', '1000');
  const g = await gatewayOn(u.toString(), 'down', false);
  try {
    assert.equal((await call(g.url, 'POST')).status, 200);
    proxy.setMode('reset');
    // This read was let through before the failure was known: its response is not completed.
    assert.equal((await call(g.url, 'GET')).status, 0);
    const postsBefore = fx.backend.seen.filter((r) => r.method === 'POST').length;
    assert.equal((await call(g.url, 'POST')).status, 503);
    assert.equal(fx.backend.seen.filter((r) => r.method === 'POST').length, postsBefore, 'a write reached the backend without an audit record');
    const ready = await fetch(`${g.url}/readyz`);
    assert.equal(ready.status, 503);
    proxy.setMode('forward');
    // A change tries its intent record every time: the first one after the outage goes through.
    assert.equal((await call(g.url, 'POST')).status, 200);
  } finally {
    await g.gateway.close();
    await proxy.close();
  }
  const reader = await openPostgresAuditStore(url, { readOnly: true });
  const records = await all(reader);
  assert.deepEqual(records.map((r) => `${r.method} ${r.status} ${r.phase}`), ['POST 0 intent', 'POST 200 outcome', 'POST 0 intent', 'POST 200 outcome']);
  assert.equal((await reader.verify()).ok, true);
  await reader.close();
});
