import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startDoorEnv, type DoorEnv } from './harness.js';
import { assertRpcError, headersFor, messageOf, post, stateless } from './wire.js';

// The stateless revision (2026-07-28): no initialize and no session, `_meta` on every request,
// `Mcp-Method` / `Mcp-Name` / `Mcp-Param-*` mirrored from the body and checked against it.

let env: DoorEnv;
let token: string;
before(async () => {
  env = await startDoorEnv();
  token = await env.token('alice');
});
after(async () => {
  await env.close();
});

const ask = (method: string, params?: Record<string, unknown>, opts?: Parameters<typeof stateless>[3]) => {
  const r = stateless(token, method, params, opts);
  return post(env, r.body, r.headers);
};

describe('stateless MCP (2026-07-28)', () => {
  it('server/discover, tools/list and tools/call work without a session; lists are private to the caller', async () => {
    const discover = messageOf(await ask('server/discover'))['result'] as Record<string, unknown>;
    assert.equal(discover['resultType'], 'complete');
    assert.deepEqual(discover['supportedVersions'], ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26']);
    assert.deepEqual(discover['capabilities'], { tools: { listChanged: false } });
    assert.equal(discover['cacheScope'], 'public');

    const list = await ask('tools/list');
    assert.equal(list.headers['mcp-session-id'], undefined, 'no session is minted');
    const listed = messageOf(list)['result'] as Record<string, unknown>;
    assert.equal(listed['resultType'], 'complete');
    assert.equal(listed['cacheScope'], 'private');
    assert.equal(typeof listed['ttlMs'], 'number');
    assert.deepEqual((listed['tools'] as { name: string }[]).map((t) => t.name).sort(), ['region', 'slow', 'team.reports', 'whoami']);

    const called = messageOf(await ask('tools/call', { name: 'whoami', arguments: {} }))['result'] as Record<string, unknown>;
    assert.equal(called['resultType'], 'complete');
    assert.deepEqual(called['structuredContent'], { user: 'alice', tool: 'whoami', args: {} });
    assert.deepEqual(called['_meta'], { 'io.modelcontextprotocol/serverInfo': { name: 'behalf', version: '0.1.0' } });
  });

  it('a header that differs from the body is 400 -32020, and the body is never acted on', async () => {
    const before = env.source.calls.length;
    const cases: [string, Parameters<typeof stateless>[3]][] = [
      ['Mcp-Method differs', { headers: { 'mcp-method': 'tools/list' } }],
      ['Mcp-Name names another tool', { headers: { 'mcp-name': 'whoami' } }],
      ['Mcp-Name missing', { headers: { 'mcp-name': undefined } }],
      ['MCP-Protocol-Version missing', { headers: { 'mcp-protocol-version': undefined } }],
      ['Mcp-Name with a control character', { headers: { 'mcp-name': '=?base64?dGVhbS5yZXBvcnRzCg==?=' } }],
    ];
    for (const [what, opts] of cases) {
      const r = stateless(token, 'tools/call', { name: 'team.reports', arguments: { employee: 'bob' } }, opts);
      for (const [k, v] of Object.entries(r.headers)) if (v === undefined) delete r.headers[k];
      const error = assertRpcError(await post(env, r.body, r.headers), 400, -32020, what);
      assert.equal(error.data?.['reason'], 'header-mismatch', what);
    }
    assert.equal(env.source.calls.length, before, 'no call reached the source');
    const encoded = stateless(token, 'tools/call', { name: 'whoami', arguments: {} }, { headers: { 'mcp-name': `=?base64?${Buffer.from('whoami').toString('base64')}?=` } });
    assert.equal((await post(env, encoded.body, encoded.headers)).status, 200, 'a Base64-encoded Mcp-Name is decoded before comparing');
  });

  it('Mcp-Param headers declared by the tool schema must match the argument', async () => {
    const ok = await ask('tools/call', { name: 'region', arguments: { region: 'eu-west' } }, { headers: { 'mcp-param-region': 'eu-west' } });
    assert.equal(ok.status, 200, ok.body);
    assertRpcError(await ask('tools/call', { name: 'region', arguments: { region: 'eu-west' } }, { headers: { 'mcp-param-region': 'us-east' } }), 400, -32020, 'param differs');
    assertRpcError(await ask('tools/call', { name: 'region', arguments: { region: 'eu-west' } }), 400, -32020, 'param header missing');
  });

  it('_meta is required (400 -32602); a version behalf does not speak is 400 -32022; an unknown method is 404 -32601', async () => {
    const noCaps = stateless(token, 'tools/list');
    delete (noCaps.body['params'] as { _meta: Record<string, unknown> })._meta['io.modelcontextprotocol/clientCapabilities'];
    assertRpcError(await post(env, noCaps.body, noCaps.headers), 400, -32602, 'no clientCapabilities');

    const headerOnly = await post(env, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headersFor(token, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' }));
    assertRpcError(headerOnly, 400, -32602, 'header says stateless, body has no _meta');

    const mismatch = stateless(token, 'tools/list', {}, { headers: { 'mcp-protocol-version': '2025-11-25' } });
    assertRpcError(await post(env, mismatch.body, mismatch.headers), 400, -32020, 'header version differs from _meta');

    const legacyInMeta = stateless(token, 'tools/list', {}, { meta: { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' }, headers: { 'mcp-protocol-version': '2025-11-25' } });
    const error = assertRpcError(await post(env, legacyInMeta.body, legacyInMeta.headers), 400, -32022, 'a session-era version in stateless form');
    assert.equal(error.data?.['requested'], '2025-11-25');

    assertRpcError(await ask('prompts/list'), 404, -32601, 'prompts/list');
  });

  it('an unsupported version in the header alone is 400 -32022 that echoes the request id and the version', async () => {
    const r = stateless(token, 'server/discover', {}, { id: 301, meta: { 'io.modelcontextprotocol/protocolVersion': 'v999.0.0' }, headers: { 'mcp-protocol-version': 'v999.0.0' } });
    const reply = await post(env, r.body, r.headers);
    const error = assertRpcError(reply, 400, -32022, 'v999.0.0');
    assert.equal(messageOf(reply)['id'], 301, 'the error carries the JSON-RPC id');
    assert.deepEqual(error.data?.['supported'], ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26']);
    assert.equal(error.data?.['requested'], 'v999.0.0');
    const legacy = await post(env, { jsonrpc: '2.0', id: 'x-7', method: 'tools/list' }, headersFor(token, { 'mcp-protocol-version': '1999-01-01' }));
    assertRpcError(legacy, 400, -32022, 'a session-era request with an unknown version');
    assert.equal(messageOf(legacy)['id'], 'x-7');
  });

  it('initialize and ping sent in the stateless form are 404 -32601 with their id: no session is opened, nothing is downgraded', async () => {
    const init = stateless(token, 'initialize', { protocolVersion: '2026-07-28', capabilities: {}, clientInfo: { name: 'wire-test', version: '1' } }, { id: 500 });
    const reply = await post(env, init.body, init.headers);
    assertRpcError(reply, 404, -32601, 'stateless initialize');
    assert.equal(messageOf(reply)['id'], 500);
    assert.equal(reply.headers['mcp-session-id'], undefined, 'no session id');
    const record = (await env.auditRecords()).findLast((x) => x.requestId === reply.headers['x-request-id']);
    assert.equal(record?.reason, 'rpc-method-not-found', 'refused, not answered with a downgraded session');
    // The `_meta` version alone makes it stateless too (and then the header is required).
    const metaOnly = stateless(token, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'wire-test', version: '1' } }, { headers: { 'mcp-protocol-version': undefined } });
    for (const [k, v] of Object.entries(metaOnly.headers)) if (v === undefined) delete metaOnly.headers[k];
    const noHeader = await post(env, metaOnly.body, metaOnly.headers);
    assertRpcError(noHeader, 400, -32020, 'stateless initialize without the version header');
    assert.equal(noHeader.headers['mcp-session-id'], undefined);

    const ping = await post(env, stateless(token, 'ping', {}, { id: 501 }).body, stateless(token, 'ping').headers);
    assertRpcError(ping, 404, -32601, 'stateless ping');
    assert.equal(messageOf(ping)['id'], 501);
    for (const method of ['logging/setLevel', 'resources/subscribe']) assertRpcError(await ask(method), 404, -32601, method);
  });

  it('closing the response stream cancels the call (the stateless cancellation)', async () => {
    const abortedBefore = env.source.aborted;
    const r = stateless(token, 'tools/call', { name: 'slow', arguments: { steps: 50, stepMs: 40 } }, { meta: { progressToken: 'p' } });
    const body = JSON.stringify(r.body);
    const requestId = await new Promise<string>((resolve, reject) => {
      const req = request(env.mcpUrl, { method: 'POST', headers: { ...r.headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.once('data', () => {
          resolve(String(res.headers['x-request-id']));
          req.destroy();
        });
      });
      req.on('error', () => undefined);
      setTimeout(() => reject(new Error('no progress event')), 3_000).unref();
      req.end(body);
    });
    const deadline = Date.now() + 3_000;
    let record;
    while (record === undefined && Date.now() < deadline) {
      record = (await env.auditRecords()).findLast((x) => x.requestId === requestId);
      if (record === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(env.source.aborted, abortedBefore + 1, 'the source saw the abort');
    assert.ok(record, 'audited');
    assert.equal(record.detail, 'the client went away during the call');
  });

  it('a session id sent in the stateless form is ignored, and DELETE is 405', async () => {
    const withSession = await ask('tools/list', {}, { headers: { 'mcp-session-id': 'AAAAAAAAAAAAAAAAAAAAAA' } });
    assert.equal(withSession.status, 200);
    const del = await fetch(env.mcpUrl, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2026-07-28' } });
    assert.equal(del.status, 405);
  });
});
