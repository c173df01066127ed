import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { send } from '../../e2e/bounded-client.js';
import { startDoorEnv, type DoorEnv } from './harness.js';
import { assertRpcError, headersFor, messageOf, openSession, post, sseMessages } from './wire.js';

// The session-based protocol (2025-03-26 to 2025-11-25) on the wire: authentication and its
// challenge, Origin, HTTP methods, JSON-RPC errors, sessions and versions, tool names, scopes,
// arguments, SSE, and the audit record of each request.

let env: DoorEnv;
before(async () => {
  env = await startDoorEnv({ mcp: { maxBodyBytes: 8_192, allowedOrigins: ['https://app.example'] } });
});
after(async () => {
  await env.close();
});

const call = (id: number, name: string, args: unknown = {}, meta?: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args, ...(meta === undefined ? {} : { _meta: meta }) },
});

describe('MCP endpoint: authentication', () => {
  it('without a token: 401 with resource_metadata, whose document names the IdP and the scopes tools need', async () => {
    const reply = await post(env, { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, headersFor(undefined));
    assertRpcError(reply, 401, -31401, 'no token');
    const metadataUrl = `${env.publicUrl}/.well-known/oauth-protected-resource/mcp`;
    // The challenge names the scopes the endpoint needs (MCP authorization, scope selection), as its metadata does.
    assert.equal(reply.headers['www-authenticate'], `Bearer resource_metadata="${metadataUrl}", scope="reviews:write"`);
    const prm = (await (await fetch(metadataUrl)).json()) as Record<string, unknown>;
    assert.equal(prm['resource'], env.mcpUrl);
    assert.deepEqual(prm['authorization_servers'], [env.idp.issuer]);
    assert.deepEqual(prm['scopes_supported'], ['reviews:write']);
  });

  it('a bad token, or one minted for another resource, gets invalid_token', async () => {
    const bad = await post(env, { jsonrpc: '2.0', id: 1, method: 'ping' }, headersFor('not-a-jwt'));
    assertRpcError(bad, 401, -31401, 'bad token');
    assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/);
    const otherAudience = await env.idp.mint('alice', { audience: env.publicUrl });
    const wrong = await post(env, { jsonrpc: '2.0', id: 1, method: 'ping' }, headersFor(otherAudience));
    const error = assertRpcError(wrong, 401, -31401, 'audience of the gateway root, not /mcp');
    assert.equal(error.data?.['reason'], 'audience-mismatch');
  });
});

describe('MCP endpoint: transport', () => {
  it('refuses a foreign Origin before anything else, allows its own and the configured ones', async () => {
    const evil = await post(env, { jsonrpc: '2.0', id: 1, method: 'ping' }, headersFor(undefined, { origin: 'https://evil.example' }));
    const error = assertRpcError(evil, 403, -32600, 'foreign origin');
    assert.equal(error.data?.['reason'], 'origin-not-allowed');
    for (const origin of [env.publicUrl, 'https://app.example', 'https://APP.example:443']) {
      const ok = await post(env, { jsonrpc: '2.0', id: 1, method: 'ping' }, headersFor(undefined, { origin }));
      assert.equal(ok.status, 401, `${origin} passes the origin check`);
    }
    const nullOrigin = await post(env, { jsonrpc: '2.0', id: 1, method: 'ping' }, headersFor(undefined, { origin: 'null' }));
    assert.equal(nullOrigin.status, 403);
  });

  it('GET (no server-initiated stream) and other methods: 405 with Allow', async () => {
    const token = await env.token('bob');
    for (const method of ['GET', 'PUT', 'OPTIONS']) {
      const reply = await send(env.publicUrl, { method, path: '/mcp', headers: headersFor(token) });
      assert.equal(reply.status, 405, method);
      assert.equal(reply.headers['allow'], 'POST, DELETE');
    }
  });

  it('malformed JSON, a batch, a non-JSON-RPC body, a wrong media type, an oversized body: spec errors, never a crash', async () => {
    const { token, session } = await openSession(env, 'bob');
    const h = headersFor(token, { 'mcp-session-id': session });
    assertRpcError(await post(env, '{"jsonrpc":"2.0",', h), 400, -32700, 'malformed JSON');
    assertRpcError(await post(env, '', h), 400, -32700, 'empty body');
    assertRpcError(await post(env, [{ jsonrpc: '2.0', id: 1, method: 'ping' }], h), 400, -32600, 'batch');
    assertRpcError(await post(env, { jsonrpc: '1.0', id: 1, method: 'ping' }, h), 400, -32600, 'jsonrpc 1.0');
    assertRpcError(await post(env, { jsonrpc: '2.0', id: null, method: 'ping' }, h), 400, -32600, 'null id');
    assertRpcError(await post(env, { jsonrpc: '2.0', id: 3, method: 'ping', params: [1] }, h), 400, -32602, 'array params');
    assertRpcError(await post(env, { jsonrpc: '2.0', id: 1, method: 'ping' }, { ...h, 'content-type': 'text/plain' }), 415, -32600, 'text/plain');
    assertRpcError(await post(env, { jsonrpc: '2.0', id: 1, method: 'ping' }, { ...h, accept: 'text/html' }), 406, -32600, 'accepts neither form');
    const big = await post(env, { jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(10_000) } }, h);
    assertRpcError(big, 413, -32600, 'oversized');
    const stillThere = await post(env, { jsonrpc: '2.0', id: 2, method: 'ping' }, h);
    assert.deepEqual(messageOf(stillThere), { jsonrpc: '2.0', id: 2, result: {} });
  });

  it('a client that accepts only event streams gets every answer as a stream, the session id included', async () => {
    const token = await env.token('carol');
    const init = await post(
      env,
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {} } },
      headersFor(token, { accept: 'text/event-stream' }),
    );
    assert.equal(init.headers['content-type'], 'text/event-stream');
    assert.match(String(init.headers['mcp-session-id']), /^[A-Za-z0-9_-]{22}$/);
    assert.equal((messageOf(init)['result'] as Record<string, unknown>)['protocolVersion'], '2025-06-18');
    const h = headersFor(token, { accept: 'text/event-stream', 'mcp-session-id': String(init.headers['mcp-session-id']) });
    const unknown = await post(env, call(2, 'nope'), h);
    assert.equal(unknown.headers['content-type'], 'text/event-stream');
    assertRpcError(unknown, 200, -32602, 'unknown tool, as a stream');
  });

  it('an unknown method is -32601; notifications and client responses are 202 with no body', async () => {
    const { token, session } = await openSession(env, 'bob');
    const h = headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });
    assertRpcError(await post(env, { jsonrpc: '2.0', id: 4, method: 'resources/list' }, h), 200, -32601, 'resources/list');
    const note = await post(env, { jsonrpc: '2.0', method: 'notifications/whatever' }, h);
    assert.equal(note.status, 202);
    assert.equal(note.body, '');
    const response = await post(env, { jsonrpc: '2.0', id: 99, result: {} }, h);
    assert.equal(response.status, 202);
  });
});

describe('MCP endpoint: sessions and versions', () => {
  it('initialize settles a version; later requests need their session (400 without, 404 unknown) and its version', async () => {
    const token = await env.token('carol');
    const init = await post(env, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2099-01-01', capabilities: {} } }, headersFor(token));
    const result = messageOf(init)['result'] as Record<string, unknown>;
    assert.equal(result['protocolVersion'], '2025-11-25', 'an unknown version gets the newest');
    assert.deepEqual(result['capabilities'], { tools: { listChanged: false } });
    const session = String(init.headers['mcp-session-id']);

    assertRpcError(await post(env, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headersFor(token)), 400, -32600, 'no session');
    assertRpcError(await post(env, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headersFor(token, { 'mcp-session-id': 'AAAAAAAAAAAAAAAAAAAAAA' })), 404, -32600, 'unknown session');
    const unsupported = assertRpcError(
      await post(env, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '1999-01-01' })),
      400,
      -32022,
      'unsupported version',
    );
    assert.deepEqual(unsupported.data?.['supported'], ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26']);
    const otherVersion = await post(env, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }));
    assert.equal(otherVersion.status, 200, 'another supported version than the session\'s: accepted, the session\'s governs');
    const listed = await post(env, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, headersFor(token, { 'mcp-session-id': session }));
    assert.equal(listed.status, 200, 'no version header: 2025-03-26 is assumed, and accepted');
    assert.ok(Array.isArray((messageOf(listed)['result'] as Record<string, unknown>)['tools']));
  });
});

describe('MCP endpoint: tools', () => {
  it('names are matched exactly: __proto__, toString, constructor, a trailing slash, a blocked tool are unknown tools', async () => {
    const { token, session } = await openSession(env, 'alice');
    const h = headersFor(token, { 'mcp-session-id': session });
    const before = env.source.calls.length;
    for (const name of ['__proto__', 'toString', 'constructor', 'hasOwnProperty', 'whoami/', 'WHOAMI', 'broken']) {
      const error = assertRpcError(await post(env, call(5, name), h), 200, -32602, name);
      assert.equal(error.message, `Unknown tool: ${name}`);
    }
    assert.equal(env.source.calls.length, before, 'no backend call');
  });

  it('invalid arguments: an isError result naming the field, never its value (SEP-1303); arguments that are no object: -32602; no backend call', async () => {
    const { token, session } = await openSession(env, 'bob');
    const h = headersFor(token, { 'mcp-session-id': session });
    const before = env.source.calls.length;
    const wrongType = await post(env, call(6, 'slow', { steps: 'many-secret-words' }), h);
    assert.equal(wrongType.status, 200);
    assert.deepEqual(messageOf(wrongType), {
      jsonrpc: '2.0',
      id: 6,
      result: { content: [{ type: 'text', text: 'Invalid arguments for tool slow: /steps: must be integer' }], isError: true },
    });
    assert.doesNotMatch(wrongType.body, /many-secret-words/, 'the value is never echoed');
    const missing = messageOf(await post(env, call(8, 'slow', {}), h))['result'] as { content: { text: string }[]; isError: boolean };
    assert.equal(missing.isError, true);
    assert.match(missing.content[0]!.text, /missing required argument "steps"/);
    assertRpcError(await post(env, call(7, 'whoami', ['not', 'an', 'object']), h), 200, -32602, 'array arguments: not a CallToolRequest');
    assert.equal(env.source.calls.length, before, 'no backend call');
    const records = (await env.auditRecords()).filter((r) => r.requestId === wrongType.headers['x-request-id']);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.decision, 'deny');
    assert.equal(records[0]!.reason, 'invalid-arguments', 'the audit reason code is unchanged');
  });

  it('a missing scope is the MCP step-up: 403 insufficient_scope naming the scope', async () => {
    const { token, session } = await openSession(env, 'alice');
    const reply = await post(env, call(9, 'reviews.write', { text: 'x' }), headersFor(token, { 'mcp-session-id': session }));
    const error = assertRpcError(reply, 403, -31403, 'no reviews:write');
    assert.equal(error.data?.['reason'], 'insufficient-scope');
    assert.equal(
      reply.headers['www-authenticate'],
      `Bearer resource_metadata="${env.publicUrl}/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", scope="reviews:write"`,
    );
    const stepped = await openSession(env, 'alice', { scopes: ['reviews:read', 'reviews:write'] });
    const ok = await post(env, call(10, 'reviews.write', { text: 'x' }), headersFor(stepped.token, { 'mcp-session-id': stepped.session }));
    assert.equal(ok.status, 200);
    assert.equal(messageOf(ok)['error'], undefined);
  });

  it('with a progress token and SSE accepted, progress events come before the result on one stream', async () => {
    const { token, session } = await openSession(env, 'bob');
    const reply = await post(env, call(11, 'slow', { steps: 2, stepMs: 5 }, { progressToken: 'p1' }), headersFor(token, { 'mcp-session-id': session }));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/event-stream');
    const messages = sseMessages(reply.body);
    assert.deepEqual(messages.slice(0, 2), [
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p1', progress: 1, total: 2, message: 'step 1' } },
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p1', progress: 2, total: 2, message: 'step 2' } },
    ]);
    assert.deepEqual(messages[2], { jsonrpc: '2.0', id: 11, result: { content: [{ type: 'text', text: 'done after 2 steps' }] } });
    const jsonOnly = await post(env, call(12, 'slow', { steps: 2, stepMs: 5 }, { progressToken: 'p2' }), headersFor(token, { 'mcp-session-id': session, accept: 'application/json' }));
    assert.equal(jsonOnly.headers['content-type'], 'application/json', 'a JSON-only client gets the result alone');
  });
});

describe('MCP endpoint: audit', () => {
  it('one record per request: method, tool, source, argument digest, decision, reason, rule, result status', async () => {
    const { token, session } = await openSession(env, 'mallory');
    const h = headersFor(token, { 'mcp-session-id': session });
    const idOf = async (body: unknown) => String((await post(env, body, h)).headers['x-request-id']);
    const a = await idOf(call(20, 'region', { region: 'eu', query: 'q' }));
    const digestA = env.source.calls.at(-1)!.argumentsDigest;
    const b = await idOf(call(21, 'region', { query: 'q', region: 'eu' }));
    assert.equal(env.source.calls.at(-1)!.argumentsDigest, digestA, 'the digest does not depend on key order');
    const ledger = await idOf(call(22, 'finance.ledger'));
    const denied = await idOf(call(23, 'team.reports', { employee: 'bob' }));
    const unknown = await idOf(call(24, '__proto__'));
    const listed = await idOf({ jsonrpc: '2.0', id: 25, method: 'tools/list' });
    const records = await env.auditRecords();
    const of = (id: string) => {
      const r = records.findLast((x) => x.requestId === id);
      assert.ok(r, `request ${id} not audited`);
      return r;
    };
    for (const id of [a, b]) {
      const r = of(id);
      assert.equal(r.door, 'mcp');
      assert.equal(r.rpcMethod, 'tools/call');
      assert.equal(r.tool, 'region');
      assert.equal(r.upstream, 'config');
      assert.equal(r.argsDigest, digestA);
      assert.equal(r.decision, 'allow');
      assert.equal(r.reason, 'allowed-by-rule');
      assert.equal(r.ruleId, 'anyone-whoami');
      assert.equal(r.user, 'mallory');
      assert.equal(r.resultError, undefined);
    }
    assert.equal(of(ledger).resultError, true);
    assert.equal(of(ledger).upstreamStatus, 503);
    assert.equal(of(denied).decision, 'deny');
    assert.equal(of(denied).reason, 'missing-role');
    assert.equal(of(denied).ruleId, 'managers-reports');
    assert.equal(of(unknown).reason, 'route-not-found');
    assert.equal(of(unknown).tool, '__proto__');
    assert.equal(of(listed).rpcMethod, 'tools/list');
    assert.equal(of(listed).reason, 'protocol-message');
    // A JWT's shape (header.payload), not a bare "eyJ": a random request id may contain that.
    for (const r of records) assert.doesNotMatch(JSON.stringify(r), /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/, 'no token in the trail');
  });
});
