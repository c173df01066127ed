import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SealedRecord } from '../../src/audit/chain.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { openPostgresAuditStore } from '../../src/stores/postgres-audit-store.js';
import { all, openStore, rec, tempDir } from './helpers.js';
import { freshSchema } from './postgres-helpers.js';

// The stores tell the audit sinks of each batch once it is in the trail, with how each record
// was sealed: the same seq, hash and line a reader gets back.

function listener() {
  const seen: { record: AuditRecord; sealed: SealedRecord }[] = [];
  return { seen, onWritten: (records: readonly AuditRecord[], sealed: readonly SealedRecord[]) => records.forEach((record, i) => seen.push({ record, sealed: sealed[i]! })) };
}

test('the embedded store tells of every written record, in order, as stored; a listener that throws changes nothing', async () => {
  const dir = await tempDir();
  const l = listener();
  const store = await openStore(dir, { onWritten: l.onWritten });
  await Promise.all(Array.from({ length: 12 }, (_, i) => store.append([rec(i + 1)], { durability: 'written' })));
  await store.close();
  const stored = await all(store);
  assert.deepEqual(l.seen.map((s) => s.sealed.seq), stored.map((r) => r.seq));
  assert.deepEqual(l.seen.map((s) => s.sealed.hash), stored.map((r) => r.hash));
  assert.deepEqual(l.seen.map((s) => s.record.requestId), stored.map((r) => r.requestId));

  const dir2 = await tempDir();
  const throwing = await openStore(dir2, { onWritten: () => { throw new Error('a sink bug'); } });
  await throwing.append([rec(1), rec(2)]);
  await throwing.close();
  assert.equal((await all(throwing)).length, 2, 'the trail is written all the same');
});


test('the PostgreSQL store tells of every committed record, as stored', async () => {
  const { url } = await freshSchema();
  const l = listener();
  const store = await openPostgresAuditStore(url, { onWritten: l.onWritten });
  await store.append([rec(1), rec(2), rec(3)]);
  await store.append([rec(4)]);
  await store.close();
  const reader = await openPostgresAuditStore(url, { readOnly: true });
  const stored = await all(reader);
  await reader.close();
  assert.deepEqual(l.seen.map((s) => s.sealed.seq), [1, 2, 3, 4]);
  assert.deepEqual(l.seen.map((s) => s.sealed.hash), stored.map((r) => r.hash));
});
