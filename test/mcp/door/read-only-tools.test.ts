/**
 * `upstreams[].readOnlyTools`: the operator, not the upstream, says which upstream tools only
 * read. While the audit trail cannot be written and `audit.onFailureForReads: allow`, a declared
 * read still reaches the upstream; a tool that merely calls itself read-only (`readOnlyHint` from
 * the upstream) is treated as a change and fails closed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openFileAuditStore } from '../../../src/audit/file-store.js';
import { fullDiskFs } from '../../audit/full-disk.js';
import { startTestUpstream, type TestUpstream } from '../upstreams/upstream-server.js';
import { startDoorEnv, type DoorEnv } from './harness.js';
import { assertRpcError, headersFor, messageOf, openSession, post } from './wire.js';

let upstream: TestUpstream;
let env: DoorEnv;
let dir: string;
const disk = { full: false };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'behalf-mcp-readonly-'));
  upstream = await startTestUpstream();
  env = await startDoorEnv(
    {
      upstreams: [{ id: 'up', namespace: 'up', url: upstream.url, pinning: 'off', readOnlyTools: ['get_*'] }], // a pattern: every tool whose own name starts with get_
      policies: [{ id: 'up-tools', effect: 'allow', match: { tools: ['up.echo', 'up.get_reviews'] } }],
      audit: { store: join(dir, 'unused'), onFailureForReads: 'allow' },
    },
    { configured: true, auditStore: await openFileAuditStore(join(dir, 'audit'), { fs: fullDiskFs(disk) }) },
  );
});
after(async () => {
  await env.close();
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

const call = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('operator-declared read-only upstream tools', () => {
  it('reads go on while the audit trail is down; a tool only the upstream calls read-only fails closed', async () => {
    const { token, session } = await openSession(env, 'alice');
    const h = headersFor(token, { 'mcp-session-id': session });
    const deadline = Date.now() + 5_000;
    let ready = await post(env, call(1, 'up.get_reviews', { employee: 'bob' }), h);
    while (messageOf(ready)['error'] !== undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      ready = await post(env, call(1, 'up.get_reviews', { employee: 'bob' }), h);
    }
    assert.equal(ready.status, 200, 'the upstream tools are served');

    disk.full = true;
    // The first write that fails marks the trail unhealthy (its own answer may already be on its way).
    await post(env, call(2, 'up.get_reviews', { employee: 'bob' }), h);
    const before = upstream.calls.length;
    const read = await post(env, call(3, 'up.get_reviews', { employee: 'carol' }), h);
    assert.equal(read.status, 200, `a declared read follows onFailureForReads: allow (${read.body.slice(0, 200)})`);
    assert.equal(messageOf(read)['error'], undefined);
    assert.equal(upstream.calls.length, before + 1, 'the read reached the upstream');

    const change = await post(env, call(4, 'up.echo', { text: 'hi' }), h);
    assertRpcError(change, 503, -31503, 'an undeclared tool is a change: it fails closed');
    assert.equal(upstream.calls.length, before + 1, 'the upstream readOnlyHint is not trusted: no call reached it');
    disk.full = false;
  });
});
