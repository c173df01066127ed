import assert from 'node:assert/strict';
import { fullDiskFs } from '../../audit/full-disk.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openFileAuditStore } from '../../../src/audit/file-store.js';
import { startDoorEnv, type DoorEnv } from './harness.js';
import { assertRpcError, headersFor, messageOf, openSession, post } from './wire.js';

// The audit trail cannot be written (a full disk at the store's filesystem seam): a tool call
// that may change data is refused before it reaches the tool (its intent record cannot be
// written), and the endpoint recovers by itself.

let env: DoorEnv;
let dir: string;
const disk = { full: false };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'behalf-mcp-audit-'));
  const fullDisk = fullDiskFs(disk);
  env = await startDoorEnv({}, { auditStore: await openFileAuditStore(join(dir, 'audit'), { fs: fullDisk }) });
});
after(async () => {
  await env.close();
  await rm(dir, { recursive: true, force: true });
});

const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'team.reports', arguments: { employee: 'bob' } } });

describe('MCP endpoint when the audit trail cannot be written', () => {
  it('fails closed, and recovers once a record can be written again', async () => {
    const { token, session } = await openSession(env, 'alice');
    const h = headersFor(token, { 'mcp-session-id': session });
    disk.full = true;
    const calls = env.source.calls.length;
    const first = await post(env, call(1), h);
    const error = assertRpcError(first, 503, -31503, 'the intent record could not be written');
    assert.equal(error.data?.['reason'], 'audit-unavailable');
    assert.equal(first.headers['retry-after'], '1');
    assertRpcError(await post(env, call(2), h), 503, -31503, 'while unhealthy');
    assert.equal(env.source.calls.length, calls, 'no call reaches the tool while the trail is down');

    disk.full = false;
    const deadline = Date.now() + 3_000;
    let reply = await post(env, call(3), h);
    while (reply.status !== 200 && Date.now() < deadline) reply = await post(env, call(4), h);
    assert.equal(reply.status, 200);
    assert.equal(messageOf(reply)['error'], undefined, 'recovered');
  });
});
