import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openFileAuditStore } from '../../src/audit/file-store.js';
import { redactPath } from '../../src/audit/redact.js';
import { parseTimeBound } from '../../src/audit/time-bound.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { all, openStore, rec, tempDir, writeTrail } from './helpers.js';

// rec(i): users cycle alice, bob, carol, mallory; mallory's requests are denied; time = 10:00:i.
const at = (sec: number) => new Date(Date.UTC(2025, 4, 1, 10, 0, sec));

test('query filters by user, decision, reason, route and tool, oldest first', async () => {
  const dir = await tempDir();
  const store = await openStore(dir);
  await store.append([...Array.from({ length: 12 }, (_, k) => rec(k + 1)), rec(13, { route: undefined, tool: 'hr.add_review', door: 'mcp' })]);
  const ids = async (q: object) => (await all(store, q)).map((r) => r.requestId);
  assert.deepEqual(await ids({ user: 'alice' }), ['req-1', 'req-5', 'req-9', 'req-13']);
  assert.deepEqual(await ids({ decision: 'deny' }), ['req-4', 'req-8', 'req-12']);
  assert.deepEqual(await ids({ reason: 'denied-by-rule', user: 'bob' }), []);
  assert.deepEqual(await ids({ tool: 'hr.add_review' }), ['req-13']);
  assert.equal((await ids({ route: 'hr' })).length, 12);
  await store.close();
});

test('since is inclusive, until exclusive; limit keeps the newest matches across segments', async () => {
  const dir = await tempDir();
  await writeTrail(dir, 40, { segmentBytes: 1, batchRecords: 4 });
  const store = await openFileAuditStore(dir, { readOnly: true });
  const seqs = async (q: object) => (await all(store, q)).map((r) => r.seq);
  assert.deepEqual(await seqs({ since: at(10), until: at(13) }), [10, 11, 12]);
  assert.deepEqual(await seqs({ limit: 6 }), [35, 36, 37, 38, 39, 40]);
  assert.deepEqual(await seqs({ decision: 'deny', limit: 3 }), [32, 36, 40]);
  assert.deepEqual(await seqs({ user: 'bob', until: at(20), limit: 2 }), [14, 18]);
  assert.deepEqual(await seqs({ user: 'nobody', limit: 5 }), []);
});

test('--since/--until values: durations back from now, ISO dates; anything else is refused', () => {
  const now = Date.UTC(2025, 4, 10, 12, 0, 0);
  assert.equal(parseTimeBound('30s', now)?.toISOString(), '2025-05-10T11:59:30.000Z');
  assert.equal(parseTimeBound('15m', now)?.toISOString(), '2025-05-10T11:45:00.000Z');
  assert.equal(parseTimeBound('2h', now)?.toISOString(), '2025-05-10T10:00:00.000Z');
  assert.equal(parseTimeBound('2d', now)?.toISOString(), '2025-05-08T12:00:00.000Z');
  assert.equal(parseTimeBound('1w', now)?.toISOString(), '2025-05-03T12:00:00.000Z');
  assert.equal(parseTimeBound('2025-05-01', now)?.toISOString(), '2025-05-01T00:00:00.000Z');
  assert.equal(parseTimeBound('2025-05-01T10:00:00+02:00', now)?.toISOString(), '2025-05-01T08:00:00.000Z');
  for (const bad of ['', '2', '2y', '-2d', 'yesterday', '2025-02-30', '2025-13-01', '05/01/2025', '2d ago']) {
    assert.equal(parseTimeBound(bad, now), undefined, bad);
  }
});

test('recorded paths keep query keys and drop their values unless configured', () => {
  assert.equal(redactPath('/api/x?a=1&b=secret', false), '/api/x?a=&b=');
  assert.equal(redactPath('/api/x?flag&&email=a%40b.c#access_token=eyJ', false), '/api/x?flag=&email=');
  assert.equal(redactPath(`/cb?${'k'.repeat(80)}`, false), '/cb?[redacted]=');
  assert.equal(redactPath('/api/x?', false), '/api/x');
  assert.equal(redactPath('/api/x', false), '/api/x');
  assert.equal(redactPath('/api/x?a=1#frag', true), '/api/x?a=1');
});

test('follow yields the last N records, then new ones as they are written, across a rotation', { timeout: 5_000 }, async () => {
  const dir = await tempDir();
  const writer = await openStore(dir, { segmentBytes: 1, batchRecords: 2 });
  await writer.append([rec(1), rec(2), rec(3), rec(4)]);
  const reader = await openFileAuditStore(dir, { readOnly: true, pollMs: 10 });
  const stop = new AbortController();
  const seen: StoredAuditRecord[] = [];
  const done = (async () => {
    for await (const r of reader.follow({ last: 2, signal: stop.signal })) {
      seen.push(r);
      if (seen.length === 7) stop.abort();
    }
  })();
  await writer.append([rec(5), rec(6)]);
  await writer.append([rec(7), rec(8), rec(9)]);
  await done;
  assert.deepEqual(seen.map((r) => r.seq), [3, 4, 5, 6, 7, 8, 9]);
  await writer.close();
});
