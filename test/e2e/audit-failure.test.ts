import assert from 'node:assert/strict';
import { fullDiskFs } from '../audit/full-disk.js';
import { join } from 'node:path';
import { test } from 'node:test';
import { openFileAuditStore } from '../../src/audit/file-store.js';
import type { Gateway } from '../../src/gateway.js';
import { startAnyoneGateway, useAliceFixture } from './harness.js';

// The audit trail cannot be written (a full disk, injected at the store's filesystem seam):
// requests that change data fail closed with 503 and never reach the backend; reads follow
// audit.onFailureForReads; the alarm metric is raised; the gateway recovers by itself.

interface Setup {
  gateway: Gateway;
  url: string;
  disk: { full: boolean };
  close(): Promise<void>;
}

const fx = useAliceFixture('behalf-audit-fail-');

async function setup(name: string, onFailureForReads: 'deny' | 'allow'): Promise<Setup> {
  const disk = { full: false };
  const fullDisk = fullDiskFs(disk);
  const store = await openFileAuditStore(join(fx.dir, name, 'audit'), { fs: fullDisk });
  const { gateway, url } = await startAnyoneGateway(fx, name, { onFailureForReads }, { auditStore: store });
  return { gateway, url, disk, close: () => gateway.close() };
}

async function call(s: Setup, method: 'GET' | 'POST'): Promise<number> {
  try {
    const res = await fetch(`${s.url}/api/items`, {
      method,
      headers: { authorization: `Bearer ${await fx.idp.mint('alice')}`, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: '{"name":"x"}' } : {}),
      signal: AbortSignal.timeout(5_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // the response was cut short: the client never saw a complete answer
  }
}

async function alarm(s: Setup): Promise<string | undefined> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  return /^behalf_audit_unhealthy (\d+)$/m.exec(text)?.[1];
}

test('audit unwritable, reads denied (default): writes and reads fail closed, nothing changes upstream, then it recovers', async () => {
  const s = await setup('deny', 'deny');
  try {
    assert.equal(await call(s, 'GET'), 200);
    s.disk.full = true;
    // This read was let through before the failure was known: its response is not completed.
    assert.equal(await call(s, 'GET'), 0);
    assert.equal(await alarm(s), '1');
    const postsBefore = fx.backend.seen.filter((r) => r.method === 'POST').length;
    assert.equal(await call(s, 'POST'), 503);
    assert.equal(await call(s, 'GET'), 503);
    assert.equal(fx.backend.seen.filter((r) => r.method === 'POST').length, postsBefore, 'a write reached the backend without an audit record');
    s.disk.full = false;
    // The next denial's record is written, so the gateway is healthy again after it.
    assert.equal(await call(s, 'GET'), 503);
    assert.equal(await call(s, 'POST'), 200);
    assert.equal(await alarm(s), '0');
  } finally {
    await s.close();
  }
});

test('audit unwritable, reads allowed: reads pass with the alarm raised, writes still fail closed', async () => {
  const s = await setup('allow', 'allow');
  try {
    s.disk.full = true;
    await call(s, 'GET'); // discovers the failure
    assert.equal(await alarm(s), '1');
    assert.equal(await call(s, 'GET'), 200);
    assert.equal(await call(s, 'POST'), 503);
  } finally {
    s.disk.full = false;
    await s.close();
  }
});
