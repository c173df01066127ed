import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startFeatureEnv, type FeatureEnv } from './feature-env.js';
import { openEventStream } from './sse-reader.js';
import { headersFor, messageOf, openSession, post, stateless } from './wire.js';

let f: FeatureEnv;

before(async () => {
  f = await startFeatureEnv();
});
after(() => f.close());

const text = (r: unknown) => ((r as { content: { text: string }[] }).content[0] ?? { text: '' }).text;

describe('requests and log messages of an upstream, relayed to the client of the request', () => {
  it("sampling: the upstream's sampling/createMessage reaches the client, and its answer reaches the upstream", async () => {
    const alice = await f.connect('alice', { capabilities: { sampling: {} } });
    const asked: unknown[] = [];
    alice.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      asked.push(req.params);
      return { role: 'assistant', content: { type: 'text', text: 'forty-two' }, model: 'test-model', stopReason: 'endTurn' };
    });
    const result = await alice.callTool({ name: 'hr.ask_model', arguments: { question: 'meaning of life?' } });
    assert.equal(text(result), 'model said: forty-two (test-model)');
    assert.deepEqual(asked, [{ messages: [{ role: 'user', content: { type: 'text', text: 'meaning of life?' } }], maxTokens: 50 }], 'the params as the upstream sent them, without _meta');

    const records = await f.env.auditRecords();
    const call = records.findLast((r) => r.rpcMethod === 'tools/call' && r.tool === 'hr.ask_model');
    assert.match(call?.detail ?? '', /relayed to the client: sampling\/createMessage/);
    const response = records.findLast((r) => r.rpcMethod === 'response' && r.user === 'alice');
    assert.equal(response?.upstream, 'hr-mcp');
    assert.match(response?.detail ?? '', /result for the sampling\/createMessage relayed from upstream hr-mcp/);
  });

  it('elicitation: the user is asked through the client, and a decline is passed back as such', async () => {
    const bob = await f.connect('bob', { capabilities: { elicitation: {} } });
    let answer: 'accept' | 'decline' = 'accept';
    bob.setRequestHandler(ElicitRequestSchema, async (req) => {
      assert.equal(req.params.message, 'Which period?');
      return answer === 'accept' ? { action: 'accept', content: { period: '2026-H1' } } : { action: 'decline' };
    });
    assert.equal(text(await bob.callTool({ name: 'hr.ask_user', arguments: {} })), 'user accept: {"period":"2026-H1"}');
    answer = 'decline';
    assert.equal(text(await bob.callTool({ name: 'hr.ask_user', arguments: {} })), 'user decline: {}');
  });

  it('a client that did not declare sampling gets nothing: the upstream gets an error and the tool says so', async () => {
    const carol = await f.connect('carol');
    const result = await carol.callTool({ name: 'hr.ask_model', arguments: {} });
    assert.equal(result.isError, true);
    assert.match(text(result), /failed: -32601 .*does not support sampling/);
  });

  it('a stateless request has no session to answer on: the upstream gets an error', async () => {
    const token = await f.env.token('alice');
    const req = stateless(token, 'tools/call', { name: 'hr.ask_model', arguments: {} }, { meta: { 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } } });
    const reply = await post(f.env, req.body, req.headers);
    const result = messageOf(reply)['result'] as { isError?: boolean; content: unknown };
    assert.equal(result.isError, true);
    assert.match(text(result), /failed: -32601/);
  });

  it("the client answers on its own session only: another user's POST of the response is refused, the owner's is taken", async () => {
    const { token, session } = await openSession(f.env, 'alice', undefined);
    // openSession declares no capabilities: open a session that takes sampling.
    const init = await post(
      f.env,
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { sampling: {} }, clientInfo: { name: 'raw', version: '1' } } },
      headersFor(token),
    );
    const sampling = String(init.headers['mcp-session-id']);
    assert.notEqual(sampling, session);
    const h = headersFor(token, { 'mcp-session-id': sampling, 'mcp-protocol-version': '2025-11-25' });
    const stream = await openEventStream(f.env.publicUrl, 'POST', h, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'hr.ask_model', arguments: { question: 'q' } } });
    assert.equal(stream.headers['content-type'], 'text/event-stream');
    const asked = await stream.next();
    assert.equal(asked['method'], 'sampling/createMessage');
    const id = asked['id'];
    assert.match(String(id), /^behalf-/);

    const mallory = await f.env.token('mallory');
    const answer = { jsonrpc: '2.0', id, result: { role: 'assistant', content: { type: 'text', text: 'from mallory' }, model: 'm' } };
    const stolen = await post(f.env, answer, headersFor(mallory, { 'mcp-session-id': sampling, 'mcp-protocol-version': '2025-11-25' }));
    assert.equal(stolen.status, 404, 'not her session');

    const own = await post(f.env, { ...answer, result: { ...answer.result, content: { type: 'text', text: 'from alice' } } }, h);
    assert.equal(own.status, 202);
    const final = await stream.next();
    assert.equal(final['id'], 7);
    assert.equal(text(final['result']), 'model said: from alice (m)');
  });

  it('a response must carry an object result or an error with a code and a message (-32600); one no request waits for is dropped', async () => {
    const { token, session } = await openSession(f.env, 'carol');
    const h = headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });
    for (const bad of [{ result: 'yes' }, { error: { message: 'no code' } }, { result: {}, error: { code: 1, message: 'both' } }]) {
      const reply = await post(f.env, { jsonrpc: '2.0', id: 'behalf-1', ...bad }, h);
      assert.equal(reply.status, 400, JSON.stringify(bad));
      assert.equal((messageOf(reply)['error'] as { code: number }).code, -32600);
    }
    assert.equal((await post(f.env, { jsonrpc: '2.0', id: 'behalf-999', result: {} }, h)).status, 202);
    const dropped = (await f.env.auditRecords()).findLast((r) => r.rpcMethod === 'response' && r.user === 'carol');
    assert.equal(dropped?.detail, 'a response to no waiting request: dropped');
  });

  it("a client's JSON-RPC error is passed to the upstream", async () => {
    const { token } = await openSession(f.env, 'bob');
    const init = await post(f.env, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { sampling: {} } } }, headersFor(token));
    const h = headersFor(token, { 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': '2025-11-25' });
    const stream = await openEventStream(f.env.publicUrl, 'POST', h, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'hr.ask_model', arguments: {} } });
    const asked = await stream.next();
    assert.equal((await post(f.env, { jsonrpc: '2.0', id: asked['id'], error: { code: -1, message: 'User rejected sampling request' } }, h)).status, 202);
    const final = await stream.next();
    assert.equal(text(final['result']), 'failed: -1 MCP error -1: User rejected sampling request', "the upstream's SDK prefixes the code it received");
  });

  it('log messages of the call reach its client at the level it set; messages outside any request reach nobody', async () => {
    const carol = await f.connect('carol');
    const logs: string[] = [];
    carol.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(`${n.params.level}: ${String(n.params.data)}`));
    await carol.callTool({ name: 'hr.chatty', arguments: {} });
    assert.deepEqual(logs, ['debug: a debug message', 'info: a info message', 'warning: a warning message'], 'no level set: every level');
    logs.length = 0;
    assert.deepEqual(await carol.setLoggingLevel('info'), {});
    await carol.callTool({ name: 'hr.chatty', arguments: {} });
    assert.deepEqual(logs, ['info: a info message', 'warning: a warning message']);
    logs.length = 0;
    await f.upstream.logOutside('not for anyone in particular');
    await carol.setLoggingLevel('warning');
    await carol.callTool({ name: 'hr.chatty', arguments: {} });
    assert.deepEqual(logs, ['warning: a warning message']);
    const levels = f.upstream.received.filter((r) => r.method === 'logging/setLevel').map((r) => r.params['level']);
    assert.deepEqual(levels, ['debug'], "the upstream is asked for every level once; clients' levels stay at the gateway");
  });
});
