import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeSegmentFs, type SegmentFs } from '../../src/audit/file-io.js';
import { openFileAuditStore } from '../../src/audit/file-store.js';
import { isBehalfError } from '../../src/errors.js';
import { all, openStore, readLinesOf, rec, tempDir, writeLines, writeTrail } from './helpers.js';

const SEG1 = 'segment-0000000000000001.jsonl';

test('a reopened store continues the chain where it stopped', async () => {
  const dir = await tempDir();
  await writeTrail(dir, 10);
  const store = await openStore(dir);
  await store.append([rec(11), rec(12)]);
  const records = await all(store);
  assert.deepEqual(records.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(records[10]!.prev, records[9]!.hash);
  assert.deepEqual(await store.verify(), { ok: true, records: 12 });
  await store.close();
});

test('files are private: directory 0700, segment and head 0600', async () => {
  const dir = join(await tempDir(), 'audit');
  await writeTrail(dir, 1);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, SEG1))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'head.json'))).mode & 0o777, 0o600);
});

test('concurrent appends are batched: 1000 records, a handful of fsyncs, every promise durable', async () => {
  const dir = await tempDir();
  const store = await openStore(dir, { flushMs: 5, batchRecords: 256 });
  await Promise.all(Array.from({ length: 1000 }, (_, k) => store.append([rec(k + 1)])));
  assert.equal(store.stats.records, 1000);
  assert.ok(store.stats.fsyncs >= 4 && store.stats.fsyncs <= 12, `${store.stats.fsyncs} fsyncs for 1000 records`);
  // Durable means visible to an independent reader as soon as the promise resolved.
  const reader = await openFileAuditStore(dir, { readOnly: true });
  assert.equal((await all(reader)).length, 1000);
  assert.equal((await reader.verify()).ok, true);
  await store.close();
});

test('a torn final line left by a crash is removed on open, with a warning, and the chain goes on', async () => {
  const dir = await tempDir();
  await writeTrail(dir, 3);
  await appendFile(join(dir, SEG1), '{"time":"2025-05-01T10:00:04.000Z","requestId":"req-4","do');
  const store = await openStore(dir);
  assert.equal(store.warnings.length, 1);
  assert.match(store.warnings[0]!, /incomplete final line/);
  await store.append([rec(4)]);
  assert.deepEqual((await all(store)).map((r) => r.requestId), ['req-1', 'req-2', 'req-3', 'req-4']);
  assert.equal((await store.verify()).ok, true);
  await store.close();
});

test('a complete final record missing only its newline is kept, never dropped', async () => {
  const dir = await tempDir();
  await writeTrail(dir, 3);
  const path = join(dir, SEG1);
  await truncate(path, (await stat(path)).size - 1);
  const store = await openStore(dir);
  assert.match(store.warnings[0] ?? '', /kept/);
  assert.equal((await all(store)).length, 3);
  await store.append([rec(4)]);
  assert.deepEqual(await store.verify(), { ok: true, records: 4 });
  await store.close();
});

test('only one writer per directory; a lock left by a dead process is taken over', async () => {
  const dir = await tempDir();
  const first = await openStore(dir);
  await assert.rejects(openStore(dir), (e) => isBehalfError(e, 'audit-store-locked') && e.message.includes(String(process.pid)));
  // A reader needs no lock.
  const reader = await openFileAuditStore(dir, { readOnly: true });
  await assert.rejects(reader.append([rec(1)]), (e) => isBehalfError(e, 'audit-write-failed'));
  await first.close();
  assert.ok(!(await readdir(dir)).includes('writer.lock'), 'close removes the lock');

  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  await writeFile(join(dir, 'writer.lock'), JSON.stringify({ pid: dead, since: 'then' }));
  const second = await openStore(dir);
  await second.append([rec(1)]);
  assert.equal(JSON.parse(await readFile(join(dir, 'writer.lock'), 'utf8')).pid, process.pid);
  await second.close();
});

test('segments rotate at the size bound; the chain and queries span them, across restarts', async () => {
  const dir = await tempDir();
  await writeTrail(dir, 20, { segmentBytes: 1_000, batchRecords: 4 });
  const store = await openStore(dir, { segmentBytes: 1_000, batchRecords: 4 });
  await store.append([rec(21), rec(22), rec(23)]);
  const segments = (await readdir(dir)).filter((n) => n.endsWith('.jsonl'));
  assert.ok(segments.length >= 4, `only ${segments.length} segments`);
  assert.deepEqual(await store.verify(), { ok: true, records: 23 });
  assert.deepEqual((await all(store, { limit: 5 })).map((r) => r.seq), [19, 20, 21, 22, 23]);
  await store.close();
});

test('a writer refuses to continue a trail whose newest records were cut off', async () => {
  const dir = await tempDir();
  await writeTrail(dir, 5);
  const lines = await readLinesOf(join(dir, SEG1));
  await writeLines(join(dir, SEG1), lines.slice(0, 3));
  await assert.rejects(openStore(dir), (e) => isBehalfError(e, 'audit-chain-broken') && /ends at record 3.*record 5/.test(e.message));
});

/** A segment filesystem whose next `failWrites` writes (or fsyncs) fail after writing `partial` bytes. */
function flakyFs(plan: { failWrites: number; partial?: number; on: 'write' | 'datasync' }): SegmentFs {
  return {
    async openForAppend(path) {
      const fh = await nodeSegmentFs.openForAppend(path);
      return {
        write: (buf, offset, length) => {
          if (plan.on === 'write' && plan.failWrites > 0) {
            plan.failWrites--;
            if (plan.partial) fh.write(buf, offset, Math.min(plan.partial, length));
            throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
          }
          return fh.write(buf, offset, length);
        },
        datasync: async () => {
          if (plan.on === 'datasync' && plan.failWrites > 0) {
            plan.failWrites--;
            throw Object.assign(new Error('i/o error'), { code: 'EIO' });
          }
          return fh.datasync();
        },
        truncate: (len) => fh.truncate(len),
        close: () => fh.close(),
      };
    },
  };
}

for (const plan of [
  // partial is in bytes: the file holds a torn line until the store cuts it back
  { name: 'a write that fails half-way', on: 'write' as const, partial: 40 },
  { name: 'an fsync that fails', on: 'datasync' as const },
]) {
  test(`${plan.name} rejects the whole batch with audit-write-failed; the next batch keeps the chain whole`, async () => {
    const dir = await tempDir();
    const faults = { failWrites: 0, on: plan.on, ...(plan.partial ? { partial: plan.partial } : {}) };
    const store = await openStore(dir, { fs: flakyFs(faults) });
    await store.append([rec(1), rec(2)]);
    faults.failWrites = 1;
    const results = await Promise.allSettled([store.append([rec(3)]), store.append([rec(4)])]);
    // Both landed in the same batch, so both fail: the caller fails the requests closed.
    for (const r of results) assert.ok(r.status === 'rejected' && isBehalfError(r.reason, 'audit-write-failed'), JSON.stringify(r));
    await store.append([rec(5)]);
    const records = await all(store);
    // A failed write is cut back. A failed fsync is not: `written` appends of that batch may
    // already have been answered, so its whole, chained records stay (the trail may hold a
    // request that then failed closed; it never misses one that was answered).
    const expected = plan.on === 'datasync' ? ['req-1', 'req-2', 'req-3', 'req-4', 'req-5'] : ['req-1', 'req-2', 'req-5'];
    assert.deepEqual(records.map((r) => r.requestId), expected);
    assert.deepEqual(records.map((r) => r.seq), expected.map((_, i) => i + 1));
    assert.deepEqual(await store.verify(), { ok: true, records: expected.length });
    await store.close();
  });
}

test('a `written` append resolves before the batch is fsynced; a `synced` one waits for the fsync', { timeout: 5_000 }, async () => {
  const dir = await tempDir();
  let releaseSync: (() => void) | undefined;
  const gate: SegmentFs = {
    async openForAppend(path) {
      const fh = await nodeSegmentFs.openForAppend(path);
      return {
        write: (buf, offset, length) => fh.write(buf, offset, length),
        datasync: async () => {
          // Hold every fsync after the open-time one until the test lets it go.
          if (releaseSync === undefined) {
            releaseSync = () => {};
            return fh.datasync();
          }
          await new Promise<void>((resolve) => (releaseSync = resolve));
          return fh.datasync();
        },
        truncate: (len) => fh.truncate(len),
        close: () => fh.close(),
      };
    },
  };
  const store = await openStore(dir, { fs: gate, flushMs: 0 });
  let syncedDone = false;
  const written = store.append([rec(1)], { durability: 'written' });
  const synced = store.append([rec(2)]).then(() => (syncedDone = true));
  await written; // would hang here if `written` waited for the held fsync
  const reader = await openFileAuditStore(dir, { readOnly: true });
  assert.ok((await all(reader)).some((r) => r.requestId === 'req-1'), 'a resolved `written` record is in the file');
  assert.equal(syncedDone, false, 'a `synced` append resolved before its fsync');
  while (!syncedDone) {
    releaseSync?.();
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(store.stats.fsyncs >= 1, true);
  await store.close();
});

test('`written` appends share fsyncs: at most one per sync interval, and the last ones are synced without another append', { timeout: 5_000 }, async () => {
  const dir = await tempDir();
  const store = await openStore(dir, { flushMs: 0, syncIntervalMs: 50 });
  const fsyncsAtOpen = store.stats.fsyncs;
  const started = Date.now();
  for (let i = 1; i <= 40; i++) await store.append([rec(i)], { durability: 'written' });
  const elapsed = Date.now() - started;
  const during = store.stats.fsyncs - fsyncsAtOpen;
  assert.ok(during <= Math.ceil(elapsed / 50) + 1, `${during} fsyncs for 40 sequential appends in ${elapsed} ms`);
  assert.equal(store.stats.records, 40);
  // Resolved once written, before its sync: that sync must still come, on the interval.
  await store.append([rec(41)], { durability: 'written' });
  const before = store.stats.fsyncs;
  const deadline = Date.now() + 2_000;
  while (store.stats.fsyncs === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(store.stats.fsyncs > before, 'a written record was never synced');
  const synced = store.stats.fsyncs;
  await store.append([rec(42)]); // `synced`: does not wait for the interval
  assert.ok(store.stats.fsyncs > synced);
  await store.close();
});

test('verify run by a reader while the gateway keeps writing never reports a false problem', async () => {
  const dir = await tempDir();
  const store = await openStore(dir, { segmentBytes: 4_000, flushMs: 0 });
  const reader = await openFileAuditStore(dir, { readOnly: true });
  let writing = true;
  const writer = (async () => {
    for (let i = 1; writing; i++) await store.append([rec(i)]);
  })();
  // Keep verifying until the writer has crossed a few segment boundaries (~11 records each).
  let rounds = 0;
  for (let seen = 0; rounds < 10 || seen < 60; rounds++) {
    const result = await reader.verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    seen = result.records;
  }
  writing = false;
  await writer;
  assert.deepEqual(await reader.verify(), { ok: true, records: store.stats.records });
  await store.close();
});
