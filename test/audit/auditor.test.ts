import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { createAuditor, openAuditStore } from '../../src/audit/auditor.js';
import { nodeSegmentFs } from '../../src/audit/file-io.js';
import { isBehalfError } from '../../src/errors.js';
import { all, openStore, rec, tempDir } from './helpers.js';

const cfg = (store: string) => ({ store, includeQueryValues: false, onFailureForReads: 'deny' as const, flushMs: 0 });

test('openAuditStore resolves file:<dir> and plain relative paths against baseDir', async () => {
  const base = await tempDir();
  for (const [store, dir] of [['file:trail-a', 'trail-a'], ['trail-b', 'trail-b'], [join(base, 'trail-c'), 'trail-c']] as const) {
    const s = await openAuditStore(cfg(store), { baseDir: base });
    await s.append([rec(1)]);
    await s.close();
    const reader = await openAuditStore(cfg(join(base, dir)), { baseDir: '/nonexistent', readOnly: true });
    assert.equal((await all(reader)).length, 1, store);
    await reader.close();
  }
  await assert.rejects(openAuditStore(cfg('redis://db/audit'), { baseDir: base }), (e) => isBehalfError(e, 'config-invalid') && /redis/.test(e.message));
});

test('a reader opened next to the running writer sees what the auditor made durable', async () => {
  const base = await tempDir();
  const writer = createAuditor(await openAuditStore(cfg('audit'), { baseDir: base }));
  await writer.record(rec(1));
  await assert.rejects(openAuditStore(cfg('audit'), { baseDir: base }), (e) => isBehalfError(e, 'audit-store-locked'));
  const reader = await openAuditStore(cfg('audit'), { baseDir: base, readOnly: true });
  assert.deepEqual((await all(reader)).map((r) => r.requestId), ['req-1']);
  await writer.close();
});

test('a failed write rejects record(), marks the auditor unhealthy and raises the alarm once; it recovers', async () => {
  const dir = await tempDir();
  let failNext = false;
  const store = await openStore(dir, {
    fs: {
      async openForAppend(path) {
        const fh = await nodeSegmentFs.openForAppend(path);
        return {
          write: (b, o, l) => {
            if (failNext) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
            return fh.write(b, o, l);
          },
          datasync: () => fh.datasync(),
          truncate: (n) => fh.truncate(n),
          close: () => fh.close(),
        };
      },
    },
  });
  const alarms: Error[] = [];
  const logged: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
  const auditor = createAuditor(store, { logger, onFailure: (e) => alarms.push(e) });
  await auditor.record(rec(1));
  assert.equal(auditor.healthy, true);
  failNext = true;
  await assert.rejects(auditor.record(rec(2)), (e) => isBehalfError(e, 'audit-write-failed') && /ENOSPC/.test(e.message));
  assert.equal(auditor.healthy, false);
  assert.equal(alarms.length, 1);
  assert.match(logged.join(''), /"code":"audit-write-failed".*"requestId":"req-2"/);
  failNext = false;
  await auditor.record(rec(3));
  assert.equal(auditor.healthy, true);
  assert.deepEqual((await all(store)).map((r) => r.requestId), ['req-1', 'req-3']);
  await auditor.close();
});
