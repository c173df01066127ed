/**
 * The gateway on `audit.store: postgres://...` with the default spool: a PostgreSQL outage no
 * longer fails requests; every answered request's record reaches PostgreSQL once it returns.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { freePort } from '../../examples/hr-demo/launch.js';
import { validateConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/gateway.js';
import { openPostgresAuditStore } from '../../src/stores/postgres-audit-store.js';
import { useAliceFixture } from '../e2e/harness.js';
import { all } from './helpers.js';
import { freshSchema, sql, startPgProxy, viaPort } from './postgres-helpers.js';
import { until } from './postgres-spool-helpers.js';

const fx = useAliceFixture('behalf-pg-spool-gateway-');

test('PostgreSQL cut: requests are answered 200 from the spool; restored: every answered request is in the trail once, and it verifies', async () => {
  const { schema, url } = await freshSchema();
  const proxy = await startPgProxy();
  const u = new URL(viaPort(url, proxy.port));
  u.searchParams.set('connect_timeout', '1');
  u.searchParams.set('statement_timeout', '1000');
  const port = await freePort();
  const result = validateConfig({
    server: { port, publicUrl: `http://127.0.0.1:${port}` },
    issuers: [{ id: 'idp', issuer: fx.idp.issuer, audience: 'http://gateway.test' }],
    signing: { keyFile: join(fx.dir, 'keys.json') },
    routes: [{ id: 'api', path: '/api', upstream: fx.backend.url }],
    policies: [{ id: 'anyone', effect: 'allow', match: { routes: ['api'] } }],
    audit: { store: u.toString() },
  });
  assert.ok(result.ok, JSON.stringify(result));
  const gateway = await startGateway({ config: result.config, baseDir: fx.dir, file: 'behalf.yaml' }, { logger: pino({ level: 'silent' }) });
  const base = `http://127.0.0.1:${port}`;
  const answered: string[] = [];
  const posted: string[] = [];
  let written = 0; // records: a POST writes its intent and its outcome, a GET one record
  const call = async (method: 'GET' | 'POST'): Promise<void> => {
    const res = await fetch(`${base}/api/items`, {
      method,
      headers: { authorization: `Bearer ${await fx.idp.mint('alice')}`, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: '{"name":"x"}' } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    assert.equal(res.status, 200, `${method} after ${answered.length} answered requests`);
    answered.push(res.headers.get('x-request-id')!);
    if (method === 'POST') posted.push(res.headers.get('x-request-id')!);
    written += method === 'POST' ? 2 : 1;
  };
  const count = async (): Promise<number> => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".behalf_audit_records`))[0]!.n);
  try {
    await Promise.all([call('POST'), call('GET')]);
    await Promise.all([call('POST'), call('GET')]);
    proxy.setMode('reset');
    for (let round = 0; round < 5; round++) await Promise.all([call('POST'), call('GET'), call('POST')]);
    assert.equal(await count(), 6, 'records of the outage reached PostgreSQL while it was cut');
    const spool = join(fx.dir, '.behalf', 'audit-spool');
    assert.ok((await readdir(spool)).some((n) => n.endsWith('.jsonl')), 'no spool file in the default spool directory');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.equal(Number(/^behalf_audit_spool_records (\d+)$/m.exec(metrics)?.[1]), written - 6, 'spool depth metric');
    assert.ok(Number(/^behalf_audit_spool_bytes (\d+)$/m.exec(metrics)?.[1]) > 0);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200, 'spooling keeps the instance ready: every record is kept');
    assert.match(JSON.stringify(await ready.json()), /"audit":\{"ok":true,"detail":"PostgreSQL unreachable: \d+ records spooled"\}/);
    proxy.setMode('forward');
    await Promise.all([call('POST'), call('GET')]);
    await until('every answered request reached PostgreSQL', async () => (await count()) === written, 15_000);
  } finally {
    await gateway.close();
    await proxy.close();
  }
  const reader = await openPostgresAuditStore(url, { readOnly: true });
  const records = await all(reader);
  const outcomes = records.filter((r) => r.phase !== 'intent');
  assert.deepEqual(outcomes.map((r) => r.requestId).sort(), [...answered].sort(), 'every answered request, exactly once');
  assert.deepEqual(records.filter((r) => r.phase === 'intent').map((r) => r.requestId).sort(), [...posted].sort(), 'every change, its intent once');
  assert.deepEqual(records.map((r) => r.seq), Array.from({ length: written }, (_, i) => i + 1));
  assert.deepEqual(await reader.verify(), { ok: true, records: written });
  await reader.close();
});
