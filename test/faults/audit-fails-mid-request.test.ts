/**
 * Issue "Nothing escapes the audit", section 1: the audit store starts failing while changes are
 * at the backend (the embedded store's disk fills; PostgreSQL is cut and the spool fills). Every change the backend saw has its intent record (written before it was
 * forwarded); a change whose intent could not be written never reaches the backend; every client
 * gets the truth (the backend's answer, or 503 `audit-unavailable` for what was not done, never
 * a reset); `verify` lists the changes whose outcome is missing. Both doors, one store.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openFileAuditStore } from '../../src/audit/file-store.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { openPostgresAuditStore } from '../../src/stores/postgres-audit-store.js';
import type { AuditStore, VerifyResult } from '../../src/stores/types.js';
import { fullDiskFs } from '../audit/full-disk.js';
import { all } from '../audit/helpers.js';
import { freshSchema, startPgProxy, viaPort } from '../audit/postgres-helpers.js';
import { openSpooled, until } from '../audit/postgres-spool-helpers.js';
import { send, type Reply } from '../e2e/bounded-client.js';
import { startRecordingBackend, type RecordingBackend } from '../e2e/harness.js';
import { startDoorEnv, type DoorEnv } from '../mcp/door/harness.js';
import { headersFor, messageOf, openSession, post } from '../mcp/door/wire.js';

const BACKEND_DELAY_MS = 300;
let dir: string;
let backend: RecordingBackend;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'behalf-fault-audit-'));
  // Every change stays at the backend a while, so some are there when the store fails.
  backend = await startRecordingBackend((req, res) => {
    setTimeout(() => res.writeHead(201, { 'content-type': 'application/json' }).end('{"created":true}'), BACKEND_DELAY_MS);
  });
});

after(async () => {
  await backend?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The gateway with a route and a tool that POST to the backend, on `store`. */
function startEnv(store: AuditStore): Promise<DoorEnv> {
  return startDoorEnv(
    {
      routes: [{ id: 'items', path: '/api', upstream: backend.url }],
      tools: [
        {
          name: 'add_item',
          inputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false },
          call: { route: 'items', method: 'POST', path: '/items' },
        },
      ],
      policies: [
        { id: 'items', effect: 'allow', match: { routes: ['items'] } },
        { id: 'add-item', effect: 'allow', match: { tools: ['add_item'] } },
      ],
    },
    { configured: true, auditStore: store },
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * 30 changes per door, one every 20 ms, `fail()` called before the 11th; then the checks, against
 * the trail `read()` gives once the store is whole again. Returns how many were done and refused.
 */
async function changesWhileTheStoreFails(env: DoorEnv, fail: () => void, read: () => Promise<{ records: StoredAuditRecord[]; verified: VerifyResult }>): Promise<{ done: number; refused: number; open: number }> {
  const seenBefore = backend.seen.length;
  const routeToken = await env.idp.mint('alice', { audience: env.publicUrl });
  const { token, session } = await openSession(env, 'alice');
  const mcpHeaders = headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });

  const httpPost = (i: number): Promise<Reply | Error> =>
    send(env.publicUrl, {
      method: 'POST',
      path: '/api/items',
      headers: { authorization: `Bearer ${routeToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `item-${i}` }),
      timeoutMs: 10_000,
    }).catch((err: Error) => err);
  const toolCall = (i: number): Promise<Reply | Error> =>
    post(env, { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'add_item', arguments: { name: `item-${i}` } } }, mcpHeaders).catch(
      (err: Error) => err,
    );

  // One change per door every 20 ms; the disk fills a third of the way through.
  const http: Promise<Reply | Error>[] = [];
  const mcp: Promise<Reply | Error>[] = [];
  for (let i = 0; i < 30; i++) {
    if (i === 10) fail();
    http.push(httpPost(i));
    mcp.push(toolCall(i));
    await sleep(20);
  }
  const httpReplies = await Promise.all(http);
  const mcpReplies = await Promise.all(mcp);

  const seen = new Set(backend.seen.slice(seenBefore).map((r) => String(r.headers['x-request-id'])));
  const { records, verified } = await read();
  const intents = new Set(records.filter((r) => r.phase === 'intent').map((r) => r.requestId));
  const outcomes = new Set(records.filter((r) => r.phase === 'outcome').map((r) => r.requestId));

  // 0 changes without a record: the backend's own log of request ids against the trail.
  const unrecorded = [...seen].filter((id) => !intents.has(id));
  assert.deepEqual(unrecorded, [], 'changes the backend saw with no intent record');

  let done = 0;
  let refused = 0;
  for (const reply of httpReplies) {
    assert.ok(!(reply instanceof Error), `an HTTP client got no answer: ${reply instanceof Error ? reply.message : ''}`);
    assert.equal(reply.complete, true, 'an HTTP answer was cut short');
    const id = String(reply.headers['x-request-id']);
    if (reply.status === 201) {
      assert.ok(seen.has(id), 'answered 201 but the backend never saw it');
      done++;
    } else {
      assert.equal(reply.status, 503, reply.body);
      assert.equal(JSON.parse(reply.body).error, 'audit-unavailable');
      assert.ok(!seen.has(id), 'told 503 although the backend made the change');
      refused++;
    }
  }
  for (const reply of mcpReplies) {
    assert.ok(!(reply instanceof Error), `an MCP client got no answer: ${reply instanceof Error ? reply.message : ''}`);
    const id = String(reply.headers['x-request-id']);
    const message = messageOf(reply);
    if (message['error'] === undefined) {
      assert.equal((message['result'] as { isError?: boolean }).isError, undefined, JSON.stringify(message));
      assert.ok(seen.has(id), 'a tool result for a call the backend never saw');
      done++;
    } else {
      assert.equal((message['error'] as { data?: { reason?: string } }).data?.reason, 'audit-unavailable');
      assert.ok(!seen.has(id), 'told "unavailable" although the backend made the change');
      refused++;
    }
  }
  assert.equal(done, seen.size, 'every change the backend made was answered as done');

  // The changes at the backend when the store failed have an intent and no outcome: verify says so.
  const open = [...seen].filter((id) => !outcomes.has(id));
  assert.equal(verified.ok, true, JSON.stringify(verified.problem));
  assert.deepEqual(new Set(verified.openIntents?.map((i) => i.requestId) ?? []), new Set(open));
  assert.equal(verified.openIntentCount ?? 0, open.length);
  return { done, refused, open: open.length };
}

test("the embedded store's disk fills while changes are at the backend: no change without its intent, no client told “not done” about a done change", async () => {
  const disk = { full: false };
  const storeDir = join(dir, 'embedded');
  const env = await startEnv(await openFileAuditStore(storeDir, { fs: fullDiskFs(disk) }));
  try {
    const read = async () => {
      disk.full = false;
      const reader = await openFileAuditStore(storeDir, { readOnly: true });
      try {
        return { records: await all(reader), verified: await reader.verify() };
      } finally {
        await reader.close();
      }
    };
    const { done, refused, open } = await changesWhileTheStoreFails(env, () => (disk.full = true), read);
    assert.ok(done >= 5, `the first changes went through before the disk filled (${done})`);
    assert.ok(refused >= 20, `changes after the disk filled were refused before the backend (${refused})`);
    assert.ok(open > 0, 'the scenario had changes at the backend when the disk filled');
    // Once the disk has room again, a change goes through at once (its intent write is the probe).
    const token = await env.idp.mint('alice', { audience: env.publicUrl });
    const again = await send(env.publicUrl, { method: 'POST', path: '/api/items', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"name":"again"}' });
    assert.equal(again.status, 201, 'recovered');
  } finally {
    await env.close();
  }
});

test('PostgreSQL is cut and the spool reaches maxBytes while changes are at the backend: the same promises, and the trail ships whole', async () => {
  const { url } = await freshSchema();
  const proxy = await startPgProxy();
  proxy.setMode('reset');
  // Room for about a dozen changes (two records each) in the spool.
  const store = await openSpooled(viaPort(url, proxy.port), join(dir, 'spool'), { maxBytes: 16_384 });
  const env = await startEnv(store);
  try {
    const read = async () => {
      proxy.setMode('forward');
      await until('the spool shipped', () => store.status!().spooledRecords === 0, 15_000);
      const reader = await openPostgresAuditStore(url, { readOnly: true });
      try {
        return { records: await all(reader), verified: await reader.verify() };
      } finally {
        await reader.close();
      }
    };
    const { done, refused } = await changesWhileTheStoreFails(env, () => {}, read);
    assert.ok(done > 0 && refused > 0, `some changes fit in the spool, the rest were refused (${done} done, ${refused} refused)`);
  } finally {
    await env.close();
    await proxy.close();
  }
});
