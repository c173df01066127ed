/**
 * Issue "Nothing escapes the audit", section 1: the audit store starts failing while changes are
 * at the backend. Every change the backend saw has its intent record (written before it was
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
import { fullDiskFs } from '../audit/full-disk.js';
import { all } from '../audit/helpers.js';
import { send, type Reply } from '../e2e/bounded-client.js';
import { startRecordingBackend, type RecordingBackend } from '../e2e/harness.js';
import { startDoorEnv, type DoorEnv } from '../mcp/door/harness.js';
import { headersFor, messageOf, openSession, post } from '../mcp/door/wire.js';

const BACKEND_DELAY_MS = 300;
const disk = { full: false };
let dir: string;
let backend: RecordingBackend;
let env: DoorEnv;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'behalf-fault-audit-'));
  // Every change stays at the backend a while, so some are there when the disk fills.
  backend = await startRecordingBackend((req, res) => {
    setTimeout(() => res.writeHead(201, { 'content-type': 'application/json' }).end('{"created":true}'), BACKEND_DELAY_MS);
  });
  const store = await openFileAuditStore(join(dir, 'audit'), { fs: fullDiskFs(disk) });
  env = await startDoorEnv(
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
});

after(async () => {
  await env?.close();
  await backend?.close();
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the store fails while changes are at the backend: no change without its intent, no client told "not done" about a done change', async () => {
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
    if (i === 10) disk.full = true;
    http.push(httpPost(i));
    mcp.push(toolCall(i));
    await sleep(20);
  }
  const httpReplies = await Promise.all(http);
  const mcpReplies = await Promise.all(mcp);
  disk.full = false;

  const seen = new Set(backend.seen.map((r) => String(r.headers['x-request-id'])));
  const reader = await openFileAuditStore(join(dir, 'audit'), { readOnly: true });
  const records: StoredAuditRecord[] = await all(reader);
  const verified = await reader.verify();
  await reader.close();
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
  assert.ok(done >= 20, `the first changes went through before the disk filled (${done})`);
  assert.ok(refused >= 20, `changes after the disk filled were refused before the backend (${refused})`);

  // The changes at the backend when the disk filled have an intent and no outcome: verify says so.
  const open = [...seen].filter((id) => !outcomes.has(id));
  assert.ok(open.length > 0, 'the scenario had changes in flight when the store failed');
  assert.equal(verified.ok, true, JSON.stringify(verified.problem));
  assert.deepEqual(new Set(verified.openIntents?.map((i) => i.requestId)), new Set(open));
  assert.equal(verified.openIntentCount, open.length);

  // Once the disk has room again, a change goes through at once (its intent write is the probe).
  const after = await httpPost(99);
  assert.ok(!(after instanceof Error) && after.status === 201, 'recovered');
});
