/**
 * What only the PostgreSQL audit store promises beyond the contract (test/stores/audit-contract.ts):
 * one chain for several writers, migrations that several instances can run at once, its own
 * tamper checks, and bounded failure when the server goes away.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import pg from 'pg';
import { createAuditor, openAuditStore } from '../../src/audit/auditor.js';
import { sealRecord } from '../../src/audit/chain.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { isBehalfError } from '../../src/errors.js';
import { openPostgresAuditStore, PostgresAuditStore } from '../../src/stores/postgres-audit-store.js';
import { columnsOf } from '../../src/stores/postgres-rows.js';
import { all, rec } from './helpers.js';
import { cleanupAfterFile, freshSchema, PG_URL, sql, startPgProxy, viaPort, withSchema } from './postgres-helpers.js';

test('two gateways (two stores, two pools) appending at once write ONE chain: gapless seq, every record once, verify OK', async () => {
  const { url } = await freshSchema();
  const [a, b] = await Promise.all([openPostgresAuditStore(url), openPostgresAuditStore(url)]);
  const writer = async (store: PostgresAuditStore, name: string): Promise<void> => {
    for (let round = 0; round < 40; round++) {
      // Single appends and small groups, some not awaited together, like concurrent requests.
      await Promise.all([
        store.append([rec(round, { requestId: `${name}-${round}-a`, client: name })], { durability: 'written' }),
        store.append([rec(round, { requestId: `${name}-${round}-b`, client: name }), rec(round, { requestId: `${name}-${round}-c`, client: name })]),
      ]);
    }
  };
  await Promise.all([writer(a, 'gw-a'), writer(b, 'gw-b')]);
  await Promise.all([a.close(), b.close()]);
  assert.ok(a.stats.batches > 0 && b.stats.batches > 0);

  const reader = await openPostgresAuditStore(url, { readOnly: true, pageSize: 50 });
  const records = await all(reader);
  assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 240 }, (_, i) => i + 1));
  assert.equal(new Set(records.map((r) => r.requestId)).size, 240, 'a record was lost or written twice');
  const switches = records.filter((r, i) => i > 0 && r.client !== records[i - 1]!.client).length;
  assert.ok(switches > 1, `the two writers did not interleave (${switches} switches): the test proves nothing`);
  // Verification pages through the trail 50 rows at a time.
  assert.deepEqual(await reader.verify(), { ok: true, records: 240 });
  assert.deepEqual(await reader.head(), { seq: 240, hash: records.at(-1)!.hash });
  await reader.close();
});

test('instances starting together migrate once: tables, indexes and one schema version row', async () => {
  const { schema, url } = await freshSchema();
  const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresAuditStore(url)));
  await Promise.all(stores.map((s) => s.close()));
  const again = await openPostgresAuditStore(url);
  await again.close();
  const versions = await sql<{ version: number }>(`SELECT version FROM "${schema}".behalf_audit_schema_version`);
  assert.deepEqual(versions, [{ version: 1 }, { version: 2 }, { version: 3 }]);
  const indexes = (await sql<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2', [schema, 'behalf_audit_records'])).map((r) => r.indexname).sort();
  assert.deepEqual(indexes, [
    'behalf_audit_records_deny',
    'behalf_audit_records_idempotency_key',
    'behalf_audit_records_pkey',
    'behalf_audit_records_reason',
    'behalf_audit_records_route',
    'behalf_audit_records_time',
    'behalf_audit_records_tool',
    'behalf_audit_records_user',
  ]);
});

test('queries use the indexes: a user query on a large trail reads the index, not the table', async () => {
  const { schema, url } = await freshSchema();
  const w = await openPostgresAuditStore(url, { batchRecords: 1_000 });
  await w.append(Array.from({ length: 5_000 }, (_, k) => rec(k + 1, { user: `user-${k % 500}` })));
  await w.close();
  await sql(`ANALYZE "${schema}".behalf_audit_records`);
  const plan = (await sql<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT seq, line FROM "${schema}".behalf_audit_records WHERE user_id = 'user-7' ORDER BY seq DESC LIMIT 20`))
    .map((r) => r['QUERY PLAN'])
    .join('\n');
  assert.match(plan, /behalf_audit_records_user/, plan);
  const deny = (await sql<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT seq FROM "${schema}".behalf_audit_records WHERE decision = 'deny' ORDER BY seq DESC LIMIT 20`)).map((r) => r['QUERY PLAN']).join('\n');
  assert.match(deny, /behalf_audit_records_deny/, deny);
  const r = await openPostgresAuditStore(url, { readOnly: true });
  // user-7 is records 8, 508, ..., 4508.
  assert.deepEqual((await all(r, { user: 'user-7', limit: 3 })).map((x) => x.seq), [3508, 4008, 4508]);
  await r.close();
});

test('a row whose index columns were changed (hiding it from queries) fails verify as edited, naming the column', async () => {
  const { schema, url } = await freshSchema();
  const w = await openPostgresAuditStore(url);
  await w.append([1, 2, 3, 4, 5].map((i) => rec(i)));
  await w.close();
  await sql(`UPDATE "${schema}".behalf_audit_records SET user_id = 'nobody' WHERE seq = 4`);
  const r = await openPostgresAuditStore(url, { readOnly: true });
  assert.deepEqual(await all(r, { user: 'nobody' }), [], 'the record itself still says mallory');
  const result = await r.verify();
  assert.equal(result.ok, false);
  assert.equal(result.problem?.kind, 'edited');
  assert.equal(result.problem?.seq, 4);
  assert.equal(result.records, 3);
  assert.match(result.problem?.message ?? '', /user_id column/);
  await r.close();
});

test('a writer refuses to extend a trail whose end no longer matches its head row', async () => {
  for (const [what, tamper] of [
    ['the newest record deleted', (s: string) => sql(`DELETE FROM "${s}".behalf_audit_records WHERE seq = 3`)],
    ['a record forged after the head', (s: string) => sql(`INSERT INTO "${s}".behalf_audit_records (seq, line) SELECT 4, line FROM "${s}".behalf_audit_records WHERE seq = 3`)],
    ['the head row deleted', (s: string) => sql(`DELETE FROM "${s}".behalf_audit_head`)],
  ] as const) {
    const { schema, url } = await freshSchema();
    const w = await openPostgresAuditStore(url);
    await w.append([rec(1), rec(2), rec(3)]);
    await w.close();
    await tamper(schema);
    await assert.rejects(openPostgresAuditStore(url), (e) => isBehalfError(e, 'audit-chain-broken') && /behalf audit verify/.test(e.message), what);
  }
});

test('openAuditStore picks PostgreSQL for postgres:// and postgresql:// URLs; a bad schema name is a config error', async () => {
  const { url } = await freshSchema();
  const w = await openAuditStore({ store: url.replace(/^postgres:/, 'postgresql:') }, { baseDir: '/nonexistent' });
  assert.ok(w instanceof PostgresAuditStore);
  await w.append([rec(1)]);
  await w.close();
  const r = await openAuditStore({ store: url }, { baseDir: '/nonexistent', readOnly: true });
  assert.equal((await all(r)).length, 1);
  await r.close();
  await assert.rejects(openAuditStore({ store: 'postgres://127.0.0.1/test?schema=Bad-Name' }, { baseDir: '/' }), (e) => isBehalfError(e, 'config-invalid') && /schema/.test(e.message));
  await assert.rejects(
    openAuditStore({ store: withSchema(PG_URL, 'behalf_never_created') }, { baseDir: '/', readOnly: true }),
    (e) => isBehalfError(e, 'audit-read-failed') && /no audit trail/.test(e.message),
  );
});

test('PostgreSQL unreachable at start: the store fails fast with audit-write-failed, naming the server but never the password', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const started = performance.now();
  await assert.rejects(
    openPostgresAuditStore(`postgres://behalf:s3cret-pw@127.0.0.1:${port}/audit`, { connectTimeoutMs: 1_000 }),
    (e) => isBehalfError(e, 'audit-write-failed') && e.message.includes(`127.0.0.1:${port}`) && /ECONNREFUSED/.test(e.message) && !e.message.includes('s3cret'),
  );
  assert.ok(performance.now() - started < 3_000);
});

test('PostgreSQL going down mid-run: appends fail closed within the timeouts, the auditor turns unhealthy, and recovers by itself', async () => {
  const { url } = await freshSchema();
  const proxy = await startPgProxy();
  const store = await openPostgresAuditStore(viaPort(url, proxy.port), { connectTimeoutMs: 500, statementTimeoutMs: 500 });
  let alarms = 0;
  let recoveries = 0;
  const auditor = createAuditor(store, { onFailure: () => alarms++, onRecovery: () => recoveries++ });
  await auditor.record(rec(1));
  const failsWithin = async (mode: 'reset' | 'blackhole', boundMs: number, i: number): Promise<void> => {
    proxy.setMode(mode);
    const started = performance.now();
    await assert.rejects(auditor.record(rec(i)), (e) => isBehalfError(e, 'audit-write-failed'), mode);
    const took = performance.now() - started;
    assert.ok(took < boundMs, `${mode}: the append took ${Math.round(took)} ms to fail`);
    assert.equal(auditor.healthy, false);
  };
  // A crashed server: the open connection drops, a new one is refused.
  await failsWithin('reset', 2_000, 2);
  proxy.setMode('forward');
  await auditor.record(rec(3));
  assert.equal(auditor.healthy, true);
  // A partition: the open connection stops answering (query timeout), then new ones never
  // complete their handshake (connect timeout).
  await failsWithin('blackhole', 3_000, 4);
  await failsWithin('blackhole', 3_000, 5);
  proxy.setMode('forward');
  await auditor.record(rec(6));
  assert.equal(auditor.healthy, true);
  assert.equal(alarms, 3);
  assert.equal(recoveries, 2);
  await auditor.close();
  await proxy.close();

  const r = await openPostgresAuditStore(url, { readOnly: true });
  const got: StoredAuditRecord[] = await all(r);
  assert.deepEqual(got.map((x) => x.requestId), ['req-1', 'req-3', 'req-6'], 'a failed append left nothing behind');
  assert.deepEqual(await r.verify(), { ok: true, records: 3 });
  await r.close();
});

test('once the tables exist, a least-privilege role (no UPDATE or DELETE on records) runs a gateway store: start, append, verify', async () => {
  const { schema, url } = await freshSchema();
  await (await openPostgresAuditStore(url)).close();
  const role = `behalf_t_role_${randomBytes(5).toString('hex')}`;
  await sql(`CREATE ROLE ${role} LOGIN`);
  cleanupAfterFile(async () => {
    await sql(`DROP OWNED BY ${role}`);
    await sql(`DROP ROLE ${role}`);
  });
  const s = `"${schema}"`;
  await sql(`GRANT USAGE ON SCHEMA ${s} TO ${role}`);
  await sql(`GRANT SELECT, INSERT ON ${s}.behalf_audit_records TO ${role}`);
  await sql(`GRANT SELECT, UPDATE ON ${s}.behalf_audit_head TO ${role}`);
  await sql(`GRANT SELECT ON ${s}.behalf_audit_schema_version TO ${role}`);
  const roleUrl = new URL(url);
  roleUrl.username = role;
  const w = await openPostgresAuditStore(roleUrl.toString());
  await w.append([rec(1), rec(2)]);
  assert.deepEqual(await w.verify(), { ok: true, records: 2 });
  await w.close();
  const client = new pg.Client({ connectionString: roleUrl.toString() });
  await client.connect();
  try {
    await assert.rejects(client.query(`DELETE FROM ${s}.behalf_audit_records WHERE seq = 1`), (e) => (e as { code?: string }).code === '42501');
  } finally {
    await client.end();
  }
});

test('verify reports a correctly chained record forged after the head row as inserted', async () => {
  const { schema, url } = await freshSchema();
  const w = await openPostgresAuditStore(url);
  await w.append([rec(1), rec(2), rec(3)]);
  await w.close();
  const [last] = await sql<{ line: string }>(`SELECT line FROM "${schema}".behalf_audit_records WHERE seq = 3`);
  const forged = sealRecord(rec(4, { user: 'mallory', decision: 'allow', reason: 'allowed-by-rule' }), 3, (JSON.parse(last!.line) as { hash: string }).hash);
  const c = columnsOf(rec(4, { user: 'mallory', decision: 'allow', reason: 'allowed-by-rule' }));
  await sql(`INSERT INTO "${schema}".behalf_audit_records (seq, time_at, user_id, route, tool, decision, reason, line) VALUES (4, $1, $2, $3, $4, $5, $6, $7)`, [
    c.time_at,
    c.user_id,
    c.route,
    c.tool,
    c.decision,
    c.reason,
    forged.line,
  ]);
  const r = await openPostgresAuditStore(url, { readOnly: true });
  const result = await r.verify();
  assert.equal(result.ok, false, 'the forged record went unnoticed');
  assert.deepEqual([result.problem?.kind, result.problem?.seq, result.records], ['inserted', 4, 3]);
  assert.match(result.problem!.message, /record 4 comes after the record the head row .* names \(3\)/);
  await r.close();
});
