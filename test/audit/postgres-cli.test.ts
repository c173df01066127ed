/**
 * `behalf audit tail | query | verify | export | import` against PostgreSQL, and moving trails
 * between the embedded store and PostgreSQL with every seq, prev and hash unchanged.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AuditRecord } from '../../src/audit/record.js';
import { openPostgresAuditStore } from '../../src/stores/postgres-audit-store.js';
import { runCli } from '../cli/helpers.js';
import { openStore, readLinesOf, rec, tempDir, writeLines, runAuditCli } from './helpers.js';
import { freshSchema, sql } from './postgres-helpers.js';

const run = runAuditCli;

/** A config file whose audit store is `store`. */
async function configFor(store: string): Promise<string> {
  const file = join(await tempDir(), 'behalf.yaml');
  await writeFile(file, ['server: { publicUrl: "https://gw.example" }', 'issuers: [{ id: idp, issuer: "https://idp.example", audience: gw }]', `audit: { store: "${store}" }`, ''].join('\n'));
  return file;
}

/** A PostgreSQL trail of records 1..n and a config naming it. */
async function pgTrail(n: number): Promise<{ schema: string; url: string; config: string }> {
  const { schema, url } = await freshSchema();
  const w = await openPostgresAuditStore(url);
  await w.append(Array.from({ length: n }, (_, k) => rec(k + 1)));
  await w.close();
  return { schema, url, config: await configFor(url) };
}

/** An embedded trail of records 1..n (`over` changes record i's fields). */
async function fileTrail(n: number, over: (i: number) => Partial<AuditRecord> = () => ({})): Promise<string> {
  const dir = join(await tempDir(), 'audit');
  const s = await openStore(dir);
  await s.append(Array.from({ length: n }, (_, k) => rec(k + 1, over(k + 1))));
  await s.close();
  return dir;
}

const count = async (schema: string): Promise<number> => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".behalf_audit_records`))[0]!.n);

test('tail, query and verify read the PostgreSQL trail the config names; verify reports a deleted row and exits 1', async () => {
  const { schema, config } = await pgTrail(12);
  const tail = await run(['audit', 'tail', '-n', '2', '--config', config]);
  assert.equal(tail.code, 0, tail.err);
  assert.equal(tail.out.length, 2);
  assert.match(tail.out[0]!, /^2025-05-01T10:00:11\.000Z\s+carol\s+chatgpt\s+GET \/api\/hr\/reviews\/carol\s+allow/);
  const q = await run(['audit', 'query', '--config', config, '--user', 'mallory', '--decision', 'deny', '--since', '2025-05-01T10:00:05Z', '--json']);
  assert.deepEqual(q.out.map((l) => JSON.parse(l).seq), [8, 12]);
  assert.deepEqual((await run(['audit', 'verify', '--config', config])).out, ['audit trail OK: 12 records']);

  await sql(`DELETE FROM "${schema}".behalf_audit_records WHERE seq = 5`);
  const broken = await run(['audit', 'verify', '--config', config]);
  assert.equal(broken.code, 1);
  assert.match(broken.out[0]!, new RegExp(`^audit trail BROKEN: deleted at seq 5 at row 6 of ${schema}\\.behalf_audit_records$`));
  assert.equal(broken.out[1], '  record 5 is missing');
  assert.match(broken.err, /audit-chain-broken/);
});

test('embedded -> PostgreSQL -> embedded: every record keeps seq, prev and hash; the copy is byte for byte the original', async () => {
  const original = await fileTrail(25);
  const { schema, url } = await freshSchema();
  const config = await configFor(url);
  const imported = await run(['audit', 'import', '--config', config, '--from', original]);
  assert.equal(imported.code, 0, imported.err);
  assert.match(imported.out[0]!, /^imported 25 record\(s\), skipped 0 already in the trail; head: seq 25 hash [0-9a-f]{64}$/);
  assert.equal(await count(schema), 25);
  assert.deepEqual((await run(['audit', 'verify', '--config', config])).out, ['audit trail OK: 25 records']);

  const copy = join(await tempDir(), 'copy');
  const exported = await run(['audit', 'export', '--config', config, '--to', copy]);
  assert.equal(exported.code, 0, exported.err);
  assert.match(exported.err, new RegExp(`^exported 25 record\\(s\\) to ${copy}; head: seq 25 hash [0-9a-f]{64}$`));
  const names = (await readdir(original)).filter((n) => n.endsWith('.jsonl') || n === 'head.json').sort();
  assert.deepEqual((await readdir(copy)).sort(), names);
  for (const name of names) assert.equal(await readFile(join(copy, name), 'utf8'), await readFile(join(original, name), 'utf8'), name);
  assert.deepEqual((await run(['audit', 'verify', '--store', copy])).out, ['audit trail OK: 25 records']);
});

test('export to a .jsonl file or standard output; importing the file into an empty schema gives the same trail', async () => {
  const { config } = await pgTrail(7);
  const stdout = await run(['audit', 'export', '--config', config]);
  assert.equal(stdout.out.length, 7);
  const file = join(await tempDir(), 'trail.jsonl');
  assert.equal((await run(['audit', 'export', '--config', config, '--to', file])).code, 0);
  assert.deepEqual(await readLinesOf(file), stdout.out);
  assert.deepEqual(stdout.out.map((l) => JSON.parse(l).seq), [1, 2, 3, 4, 5, 6, 7]);
  const again = await run(['audit', 'export', '--config', config, '--to', file]);
  assert.equal(again.code, 1, 'an existing file is never overwritten');
  assert.match(again.err, /EEXIST/);

  const target = await freshSchema();
  const targetConfig = await configFor(target.url);
  assert.equal((await run(['audit', 'import', '--config', targetConfig, '--from', file])).code, 0);
  assert.deepEqual((await run(['audit', 'export', '--config', targetConfig])).out, stdout.out);
  assert.deepEqual((await run(['audit', 'verify', '--config', targetConfig])).out, ['audit trail OK: 7 records']);
});

test('import continues a trail only exactly: overlap skipped, new records added; anything else refused with nothing changed', async () => {
  const { schema, config } = await pgTrail(5);
  const longer = await fileTrail(8);
  const ok = await run(['audit', 'import', '--config', config, '--from', longer]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out[0]!, /^imported 3 record\(s\), skipped 5 already in the trail; head: seq 8 /);
  const refused = async (from: string, why: RegExp): Promise<void> => {
    const r = await run(['audit', 'import', '--config', config, '--from', from]);
    assert.equal(r.code, 1, r.out.join('\n'));
    assert.match(r.err, /^audit-chain-broken: import refused, nothing imported: /m);
    assert.match(r.err, why);
    assert.equal(await count(schema), 8);
  };
  await refused(await fileTrail(10, () => ({ user: 'eve' })), /does not continue the trail/);
  const gap = join(await tempDir(), 'gap.jsonl');
  const lines = (await run(['audit', 'export', '--store', await fileTrail(12)])).out;
  await writeLines(gap, lines.slice(9));
  await refused(gap, /starts at record 10 but the trail ends at record 8/);
  const edited = await fileTrail(10);
  const seg = join(edited, (await readdir(edited)).find((n) => n.endsWith('.jsonl'))!);
  const segLines = await readLinesOf(seg);
  segLines[9] = segLines[9]!.replace('"user":"bob"', '"user":"eve"');
  await writeLines(seg, segLines);
  await refused(edited, /the source does not verify \(edited at seq 10/);
  assert.deepEqual((await run(['audit', 'verify', '--config', config])).out, ['audit trail OK: 8 records']);
});

test('import needs a PostgreSQL target; export never writes into a non-empty directory', async () => {
  const dirConfig = await configFor('state/audit');
  const r = await run(['audit', 'import', '--config', dirConfig, '--from', await fileTrail(2)]);
  assert.equal(r.code, 1);
  assert.match(r.err, /^config-invalid: audit import writes into a PostgreSQL store/m);
  const { config } = await pgTrail(2);
  const busy = join(await tempDir(), 'busy');
  await mkdir(busy);
  await writeFile(join(busy, 'keep.txt'), 'x');
  const e = await run(['audit', 'export', '--config', config, '--to', busy]);
  assert.equal(e.code, 1);
  assert.match(e.err, /exists and is not empty/);
  assert.deepEqual(await readdir(busy), ['keep.txt']);
});

test('behalf check accepts a postgres:// audit store (without connecting) and names a bad schema', async () => {
  const good = await configFor('postgres://behalf@db.invalid:5432/audit?schema=behalf_audit&sslmode=require');
  const ok = await runCli(['check', good]);
  assert.equal(ok.code, 0, ok.err);
  const bad = await configFor('postgres://behalf@db.invalid/audit?schema=Audit-Trail');
  const r = await runCli(['check', bad]);
  assert.equal(r.code, 1);
  assert.match(r.err, /^audit\.store: schema must be/m);
});

test('query filters on request id, client, door, session, upstream and kept arguments against PostgreSQL, in start order', async () => {
  const { url } = await freshSchema();
  const w = await openPostgresAuditStore(url);
  const session = 'sha256:0123456789abcdef';
  await w.append([
    rec(1, { requestId: 'r-1', client: 'chatgpt', door: 'mcp', session, upstream: 'hr-mcp', tool: 'hr.get_reviews', rpcMethod: 'tools/call', args: { employee: 'bob' }, time: '2025-05-01T10:00:05.000Z' }),
    rec(2, { requestId: 'r-2', client: 'chatgpt', door: 'mcp', session, upstream: 'hr-mcp', tool: 'hr.get_reviews', rpcMethod: 'tools/call', args: { employee: 'carol' }, time: '2025-05-01T10:00:01.000Z' }),
    rec(3, { requestId: 'r-3', client: 'agent', door: 'http', query: { employee: 'bob' } }),
    // A value that only looks like a match in the line's text: the record decides.
    rec(4, { requestId: 'r-4', client: 'agent', door: 'http', detail: '"client":"chatgpt" "door":"mcp"' }),
  ]);
  await w.close();
  const config = await configFor(url);
  const ids = async (...args: string[]): Promise<string[]> => {
    const r = await run(['audit', 'query', '--config', config, '--json', ...args]);
    assert.equal(r.code, 0, r.err);
    return r.out.map((l) => (JSON.parse(l) as AuditRecord).requestId);
  };
  assert.deepEqual(await ids('--client', 'chatgpt'), ['r-2', 'r-1']);
  assert.deepEqual(await ids('--door', 'mcp', '--limit', '1'), ['r-2']);
  assert.deepEqual(await ids('--session', session), ['r-2', 'r-1']);
  assert.deepEqual(await ids('--upstream', 'hr-mcp', '--arg', 'employee=bob'), ['r-1']);
  assert.deepEqual(await ids('--arg', 'employee=bob'), ['r-3', 'r-1']);
  assert.deepEqual(await ids('--request-id', 'r-3'), ['r-3']);
  assert.deepEqual(await ids('--door', 'http'), ['r-3', 'r-4']);
  const line = await run(['audit', 'query', '--config', config, '--request-id', 'r-1']);
  assert.match(line.out[1]!, /tools\/call hr\.get_reviews employee=bob/);
});
