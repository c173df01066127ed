/**
 * The PostgreSQL audit store's local spool (issue 4, "nothing lost under faults"): while the
 * server cannot be reached, appends still resolve, from the spool; when it returns, every record
 * lands exactly once, in order, and the trail verifies. Real PostgreSQL behind a TCP proxy.
 */
import assert from 'node:assert/strict';
import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isBehalfError } from '../../src/errors.js';
import { openPostgresAuditStore } from '../../src/stores/postgres-audit-store.js';
import { all, rec, tempDir } from './helpers.js';
import { freshSchema, sql, startPgProxy, viaPort } from './postgres-helpers.js';
import { openSpooled, spoolFiles, startCommitCutProxy, until } from './postgres-spool-helpers.js';

/** requestIds of the trail at `url`, in seq order, after checking seq is gapless and the chain verifies. */
async function trailIds(url: string): Promise<string[]> {
  const r = await openPostgresAuditStore(url, { readOnly: true });
  try {
    const records = await all(r);
    assert.deepEqual(records.map((x) => x.seq), records.map((_, i) => i + 1), 'seq has a gap');
    assert.deepEqual(await r.verify(), { ok: true, records: records.length });
    return records.map((x) => x.requestId);
  } finally {
    await r.close();
  }
}

const ids = (from: number, to: number, prefix = 'req-'): string[] => Array.from({ length: to - from + 1 }, (_, k) => `${prefix}${from + k}`);

test('PostgreSQL cut: appends resolve from the spool; restored: all land once, in order, an append made while draining lands after them', async () => {
  const { url } = await freshSchema();
  const dir = await tempDir('behalf-spool-');
  const proxy = await startPgProxy();
  const store = await openSpooled(viaPort(url, proxy.port), dir, { fileBytes: 16_384, batchRecords: 10 });
  try {
    await store.append([rec(1)]);
    proxy.setMode('reset');
    // Concurrent appends of both durabilities, some in groups, as requests make them.
    const appends: Promise<void>[] = [];
    for (let i = 2; i <= 600; i += 3) {
      appends.push(store.append([rec(i)], { durability: 'written' }), store.append([rec(i + 1), rec(i + 2)]));
    }
    await Promise.all(appends);
    assert.deepEqual(store.status(), { spooling: true, spooledRecords: 600, spooledBytes: store.status().spooledBytes });
    assert.ok(store.status().spooledBytes > 600 * 100);
    assert.ok((await spoolFiles(dir)).length > 1, 'the spool did not rotate its files');
    assert.deepEqual(await trailIds(url), ['req-1'], 'nothing reached PostgreSQL while it was cut');

    proxy.setMode('forward');
    await until('shipping started', () => store.status().spooledRecords < 600);
    assert.equal(store.status().spooling, true, 'drained before the test could append during draining');
    await store.append([rec(0, { requestId: 'while-draining' })]);
    await until('the spool drained', () => !store.status().spooling);
    assert.deepEqual(store.status(), { spooling: false, spooledRecords: 0, spooledBytes: 0 });
    await store.append([rec(0, { requestId: 'after' })]);
  } finally {
    await store.close();
    await proxy.close();
  }
  assert.deepEqual(await trailIds(url), [...ids(1, 601), 'while-draining', 'after']);
  await until('shipped spool files removed', async () => (await spoolFiles(dir)).length === 0);
  const notices = store.warnings.filter((w) => /spooling records to|drained/.test(w));
  assert.equal(notices.length, 2, notices.join('\n'));
  assert.match(notices[0]!, /unavailable .*spooling records to/);
  assert.match(notices[1]!, /drained: 601 records shipped/);
});

test('a COMMIT whose answer is lost is spooled and shipped again without a duplicate', async () => {
  const { url } = await freshSchema();
  const dir = await tempDir('behalf-spool-');
  const proxy = await startCommitCutProxy();
  const store = await openSpooled(viaPort(url, proxy.port), dir);
  try {
    await store.append([rec(1)]);
    proxy.cutAfterNextCommit();
    await Promise.all([store.append([rec(2), rec(3)]), store.append([rec(4)], { durability: 'written' })]);
    assert.equal(proxy.cuts, 1);
    await store.append([rec(5)]);
    await until('the spool drained', () => !store.status().spooling);
  } finally {
    await store.close();
    await proxy.close();
  }
  assert.ok(store.warnings.some((w) => /unavailable \(connection lost\); spooling/.test(w)), store.warnings.join('\n'));
  // The cut COMMIT took effect: shipping found records 2-4 by their keys and inserted only 1 and 5.
  assert.equal(store.stats.records, 2, 'the lost COMMIT did not commit: the test proves nothing');
  assert.deepEqual(await trailIds(url), ids(1, 5));
});

test('the same spool replayed after it was shipped (a crash between commit and spool update) adds no duplicate', async () => {
  const { url } = await freshSchema();
  const dir = await tempDir('behalf-spool-');
  const copy = await tempDir('behalf-spool-copy-');
  const proxy = await startPgProxy();
  const store = await openSpooled(viaPort(url, proxy.port), dir, { fileBytes: 4_096 });
  try {
    await store.append([rec(1)]);
    proxy.setMode('reset');
    await store.append(Array.from({ length: 120 }, (_, k) => rec(k + 2)));
    for (const name of await spoolFiles(dir)) await cp(join(dir, name), join(copy, name));
    proxy.setMode('forward');
    await until('the spool drained', () => !store.status().spooling);
  } finally {
    await store.close();
    await proxy.close();
  }
  assert.deepEqual(await trailIds(url), ids(1, 121));

  const again = await openSpooled(url, copy);
  assert.equal(again.status().spooledRecords, 120);
  await until('the replayed spool drained', () => !again.status().spooling);
  await again.append([rec(122)]);
  await again.close();
  assert.equal(again.stats.records, 1, 'only the new record was inserted');
  assert.deepEqual(await trailIds(url), ids(1, 122));
  assert.deepEqual(await spoolFiles(copy), []);
});

test('records left in the spool by an earlier run are shipped first, before anything new', async () => {
  const { url } = await freshSchema();
  const dir = await tempDir('behalf-spool-');
  const proxy = await startPgProxy();
  const first = await openSpooled(viaPort(url, proxy.port), dir);
  await first.append([rec(1)]);
  proxy.setMode('reset');
  await first.append([rec(2), rec(3), rec(4)]);
  await first.close();
  assert.equal((await spoolFiles(dir)).length, 1, 'close kept the spool');

  proxy.setMode('forward');
  const second = await openSpooled(viaPort(url, proxy.port), dir);
  try {
    assert.equal(second.status().spooling, true);
    assert.match(second.warnings.join('\n'), /3 records left in the spool .* by an earlier run/);
    await second.append([rec(5)]);
    await until('the spool drained', () => !second.status().spooling);
  } finally {
    await second.close();
    await proxy.close();
  }
  assert.deepEqual(await trailIds(url), ids(1, 5));
});

test('PostgreSQL down at start: the store opens in spooling mode, creates the tables when it returns, and ships', async () => {
  const { schema, url } = await freshSchema();
  const dir = await tempDir('behalf-spool-');
  const proxy = await startPgProxy();
  proxy.setMode('reset');
  const store = await openSpooled(viaPort(url, proxy.port), dir);
  try {
    assert.match(store.warnings.join('\n'), /unavailable at start/);
    await store.append([rec(1), rec(2)]);
    assert.deepEqual(store.status(), { spooling: true, spooledRecords: 2, spooledBytes: store.status().spooledBytes });
    const tables = await sql<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`"${schema}".behalf_audit_records`]);
    assert.equal(tables[0]?.t, null, 'nothing was created while the server was away');
    proxy.setMode('forward');
    await until('the spool drained', () => !store.status().spooling);
    await store.append([rec(3)]);
  } finally {
    await store.close();
    await proxy.close();
  }
  assert.deepEqual(await trailIds(url), ids(1, 3));
});

test('a chain found broken when the server returns stops shipping: the spool is kept and appends fail loudly', async () => {
  const { schema, url } = await freshSchema();
  const dir = await tempDir('behalf-spool-');
  const w = await openPostgresAuditStore(url);
  await w.append([rec(1), rec(2)]);
  await w.close();
  const proxy = await startPgProxy();
  proxy.setMode('reset');
  const store = await openSpooled(viaPort(url, proxy.port), dir);
  try {
    await store.append([rec(3)]);
    await sql(`DELETE FROM "${schema}".behalf_audit_records WHERE seq = 2`);
    proxy.setMode('forward');
    await until('shipping stopped', () => store.warnings.some((m) => /shipping the spool .* stopped/.test(m)));
    await assert.rejects(store.append([rec(4)]), (e) => isBehalfError(e, 'audit-chain-broken'));
    assert.deepEqual(store.status(), { spooling: true, spooledRecords: 1, spooledBytes: store.status().spooledBytes });
  } finally {
    await store.close();
    await proxy.close();
  }
  assert.equal((await spoolFiles(dir)).length, 1, 'the spool is kept for the operator');
  assert.deepEqual((await sql<{ seq: string }>(`SELECT seq FROM "${schema}".behalf_audit_records ORDER BY seq`)).map((r) => Number(r.seq)), [1]);
});

test('past maxBytes waiting, appends reject with audit-write-failed; what was accepted still lands', async () => {
  const { url } = await freshSchema();
  const dir = await tempDir('behalf-spool-');
  const proxy = await startPgProxy();
  const store = await openSpooled(viaPort(url, proxy.port), dir, { maxBytes: 4_000 });
  const accepted: string[] = [];
  try {
    proxy.setMode('reset');
    let refused: unknown;
    for (let i = 1; i <= 100 && refused === undefined; i++) {
      await store.append([rec(i)]).then(
        () => accepted.push(`req-${i}`),
        (e: unknown) => (refused = e),
      );
    }
    assert.ok(isBehalfError(refused, 'audit-write-failed') && /spool .* is full/.test(refused.message), String(refused));
    assert.ok(accepted.length > 3 && store.status().spooledBytes <= 4_000);
    proxy.setMode('forward');
    await until('the spool drained', () => !store.status().spooling);
    await store.append([rec(0, { requestId: 'after' })]);
  } finally {
    await store.close();
    await proxy.close();
  }
  assert.deepEqual(await trailIds(url), [...accepted, 'after']);
});

test('one process per spool directory; a torn last line from a crash is dropped, the complete ones are shipped', async () => {
  const { url } = await freshSchema();
  const dir = await tempDir('behalf-spool-');
  const proxy = await startPgProxy();
  proxy.setMode('reset');
  const first = await openSpooled(viaPort(url, proxy.port), dir);
  await first.append([rec(1), rec(2)]);
  await assert.rejects(openSpooled(url, dir), (e) => isBehalfError(e, 'audit-store-locked'));
  await first.close();
  await proxy.close();

  const [file] = await spoolFiles(dir);
  const { appendFile } = await import('node:fs/promises');
  await appendFile(join(dir, file!), '{"key":"torn","record":{"requestId":"req-3"');
  const second = await openSpooled(url, dir);
  assert.match(second.warnings.join('\n'), /removed an incomplete final line/);
  assert.equal(second.status().spooledRecords, 2);
  await until('the spool drained', () => !second.status().spooling);
  await second.close();
  assert.deepEqual(await trailIds(url), ids(1, 2));
  assert.deepEqual(await readdir(dir), [], 'shipped files and the lock are gone');
});

test('a failure that is not the server being unavailable (head row gone) is not spooled: the append rejects as before', async () => {
  const { schema, url } = await freshSchema();
  const dir = await tempDir('behalf-spool-');
  const store = await openSpooled(url, dir);
  try {
    await store.append([rec(1)]);
    await sql(`DELETE FROM "${schema}".behalf_audit_head`);
    await assert.rejects(store.append([rec(2)]), (e) => isBehalfError(e, 'audit-write-failed') && /head row/.test(e.message));
    assert.deepEqual(store.status(), { spooling: false, spooledRecords: 0, spooledBytes: 0 });
  } finally {
    await store.close();
  }
  assert.deepEqual(await spoolFiles(dir), []);
});
