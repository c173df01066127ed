import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { FEATURE_POLICIES, startFeatureEnv, type FeatureEnv } from './feature-env.js';
import { openEventStream } from './sse-reader.js';
import { headersFor, openSession, post } from './wire.js';

let f: FeatureEnv;

before(async () => {
  f = await startFeatureEnv();
});
after(() => f.close());

/** A client that records the resource updates it gets on its session stream. */
async function watcher(user: string): Promise<{ client: Client; updates: string[] }> {
  const client = await f.connect(user);
  const updates: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
  return { client, updates };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const upstreamCalls = (method: string) => f.upstream.received.filter((r) => r.method === method).map((r) => r.params['uri']);

describe('resource subscriptions through the gateway', () => {
  it('one upstream subscription serves every session; updates reach the subscribed sessions on their GET stream only', async () => {
    const alice = await watcher('alice');
    const bob = await watcher('bob');
    const carol = await watcher('carol');
    assert.deepEqual(await alice.client.subscribeResource({ uri: 'hr://reviews/bob' }), {});
    assert.deepEqual(await bob.client.subscribeResource({ uri: 'hr://reviews/bob' }), {});
    assert.deepEqual(upstreamCalls('resources/subscribe'), ['hr://reviews/bob'], 'subscribed upstream once');

    await f.upstream.updated('hr://reviews/bob');
    await until(() => alice.updates.length === 1 && bob.updates.length === 1, 'both subscribers notified');
    assert.deepEqual(alice.updates, ['hr://reviews/bob']);
    assert.deepEqual(carol.updates, [], 'carol did not subscribe');

    await alice.client.unsubscribeResource({ uri: 'hr://reviews/bob' });
    assert.deepEqual(upstreamCalls('resources/unsubscribe'), [], 'bob still wants it');
    await f.upstream.updated('hr://reviews/bob');
    await until(() => bob.updates.length === 2, 'bob notified again');
    assert.equal(alice.updates.length, 1, 'alice let go');

    await bob.client.unsubscribeResource({ uri: 'hr://reviews/bob' });
    await until(() => upstreamCalls('resources/unsubscribe').length === 1, 'the upstream unsubscribed');
    assert.equal(f.upstream.subscribed.has('hr://reviews/bob'), false);
  });

  it('subscribing is reading: a resource the user may not read cannot be subscribed to', async () => {
    const mallory = await watcher('mallory');
    await assert.rejects(mallory.client.subscribeResource({ uri: 'hr://reviews/bob' }), (err: unknown) => err instanceof McpError && err.code === -31403);
  });

  it('ending the session (DELETE) ends its subscriptions and its stream', async () => {
    const alice = await watcher('alice');
    await alice.client.subscribeResource({ uri: 'hr://handbook' });
    assert.equal(f.upstream.subscribed.has('hr://handbook'), true);
    await (alice.client.transport as StreamableHTTPClientTransport).terminateSession();
    await until(() => !f.upstream.subscribed.has('hr://handbook'), 'the upstream unsubscribed after DELETE');
  });

  it('GET needs the session and an event-stream Accept; it is audited; a second GET replaces the first', async () => {
    const { token, session } = await openSession(f.env, 'alice');
    const h = headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25', accept: 'text/event-stream' });
    const first = await openEventStream(f.env.publicUrl, 'GET', h);
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-type'], 'text/event-stream');
    const second = await openEventStream(f.env.publicUrl, 'GET', h);
    await first.ended;
    assert.equal(second.status, 200);

    const noSession = await openEventStream(f.env.publicUrl, 'GET', headersFor(token, { accept: 'text/event-stream' }));
    assert.equal(noSession.status, 400);
    const json = await openEventStream(f.env.publicUrl, 'GET', headersFor(token, { 'mcp-session-id': session, accept: 'application/json' }));
    assert.equal(json.status, 406);
    const mallory = await f.env.token('mallory');
    const foreign = await openEventStream(f.env.publicUrl, 'GET', headersFor(mallory, { 'mcp-session-id': session, accept: 'text/event-stream' }));
    assert.equal(foreign.status, 404);

    const subscribed = await post(f.env, { jsonrpc: '2.0', id: 5, method: 'resources/subscribe', params: { uri: 'hr://reviews/alice' } }, { ...h, accept: 'application/json, text/event-stream' });
    assert.equal(subscribed.status, 200);
    await f.upstream.updated('hr://reviews/alice');
    assert.deepEqual(await second.next(), { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'hr://reviews/alice' } });
    second.close();

    const records = (await f.env.auditRecords()).filter((r) => r.rpcMethod === 'GET' && r.user === 'alice');
    assert.ok(records.some((r) => r.decision === 'allow' && r.status === 200 && r.detail === 'session stream opened'));
  });
});

describe('tool list changes', () => {
  let g: FeatureEnv;
  before(async () => {
    g = await startFeatureEnv({ policies: [...(FEATURE_POLICIES ?? []), { id: 'new-report-for-managers', effect: 'allow', match: { tools: ['hr.new_report'] }, roles: ['manager'] }] });
  });
  after(() => g.close());

  it('an upstream adding a tool reaches every session stream as tools/list_changed; the re-list shows it to whom policy allows it', async () => {
    const alice = await g.connect('alice');
    const mallory = await g.connect('mallory');
    assert.equal(alice.getServerCapabilities()?.tools?.listChanged, true);
    let aliceHeard = 0;
    let malloryHeard = 0;
    alice.setNotificationHandler(ToolListChangedNotificationSchema, () => void aliceHeard++);
    mallory.setNotificationHandler(ToolListChangedNotificationSchema, () => void malloryHeard++);
    // Each SDK client opens its GET stream right after initialize, without waiting: poll until
    // the notification arrives rather than guessing when the streams are up.
    const deadline = Date.now() + 3_000;
    let n = 0;
    while (aliceHeard === 0 || malloryHeard === 0) {
      if (Date.now() > deadline) assert.fail(`tools/list_changed not received (alice ${aliceHeard}, mallory ${malloryHeard})`);
      await g.upstream.addTool(`new_tool_${n++}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await g.upstream.addTool('new_report');
    const names = async (c: Client) => (await c.listTools()).tools.map((t) => t.name);
    const listed = Date.now() + 3_000;
    while (!(await names(alice)).includes('hr.new_report')) {
      if (Date.now() > listed) assert.fail('the new tool was never listed to alice');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(!(await names(mallory)).includes('hr.new_report'), 'mallory is no manager: the new tool stays hidden from her');
    assert.ok(!(await names(alice)).some((t) => t.startsWith('hr.new_tool_')), 'tools no rule allows stay hidden');
  });
});
