import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { send } from '../../e2e/bounded-client.js';
import { startDoorEnv, type DoorEnv } from './harness.js';
import { assertRpcError, headersFor, messageOf, openSession, post } from './wire.js';

// A browser-based MCP client: a page of an allowed origin (`mcp.allowedOrigins`) must get its
// preflight answered and be able to read the answers (the session id, a 401's challenge); a page
// of any other origin stays refused and can read nothing. The protected resource metadata is
// public: any page may read it.

const APP = 'https://app.example';
let env: DoorEnv;
before(async () => {
  env = await startDoorEnv({ mcp: { allowedOrigins: [APP] } });
});
after(async () => {
  await env.close();
});

const preflight = (origin: string, requestHeaders: string, path = '/mcp') =>
  send(env.publicUrl, {
    method: 'OPTIONS',
    path,
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
  });

const listOf = (value: unknown) =>
  String(value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');

describe('MCP endpoint: CORS for browser-based clients', () => {
  it('a preflight from an allowed origin is 204 with the methods and the MCP headers, without credentials mode, and is not audited', async () => {
    const recordsBefore = (await env.auditRecords()).length;
    const asked = 'authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id, mcp-method, mcp-name, mcp-param-region';
    const reply = await preflight('https://APP.example:443', asked);
    assert.equal(reply.status, 204);
    assert.equal(reply.headers['access-control-allow-origin'], APP, 'the origin, normalised');
    assert.deepEqual(listOf(reply.headers['access-control-allow-methods']).sort(), ['delete', 'post'], 'no GET stream without upstreams');
    const allowed = listOf(reply.headers['access-control-allow-headers']);
    for (const h of listOf(asked)) assert.ok(allowed.includes(h), `${h} is allowed`);
    assert.ok(Number(reply.headers['access-control-max-age']) > 0);
    assert.match(String(reply.headers['vary']), /Origin/);
    assert.equal(reply.headers['access-control-allow-credentials'], undefined, 'the token travels in Authorization: no credentials mode');
    assert.equal(reply.body, '');
    assert.equal((await env.auditRecords()).length, recordsBefore, 'a preflight reaches nothing and has no record');
  });

  it('a header MCP does not define is not granted by the preflight', async () => {
    const reply = await preflight(APP, 'content-type, x-user-id, cookie');
    assert.equal(reply.status, 204);
    const allowed = listOf(reply.headers['access-control-allow-headers']);
    assert.ok(allowed.includes('content-type'));
    assert.ok(!allowed.includes('x-user-id') && !allowed.includes('cookie'), String(reply.headers['access-control-allow-headers']));
  });

  it('a refused origin stays refused: its preflight and its request are 403 with no Access-Control header', async () => {
    for (const origin of ['https://evil.example', 'null', 'https://app.example.evil.example']) {
      const pre = await preflight(origin, 'authorization, content-type');
      assert.equal(pre.status, 403, origin);
      assert.equal(pre.headers['access-control-allow-origin'], undefined, origin);
      const call = await post(env, { jsonrpc: '2.0', id: 1, method: 'ping' }, headersFor(await env.token('alice'), { origin }));
      assertRpcError(call, 403, -32600, origin);
      assert.equal(call.headers['access-control-allow-origin'], undefined, origin);
      assert.equal(call.headers['access-control-expose-headers'], undefined, origin);
    }
  });

  it('a 401 to an allowed origin is readable: the challenge is exposed to the page', async () => {
    const reply = await post(env, { jsonrpc: '2.0', id: 1, method: 'ping' }, headersFor(undefined, { origin: APP }));
    assertRpcError(reply, 401, -31401, 'no token');
    assert.equal(reply.headers['access-control-allow-origin'], APP);
    assert.ok(listOf(reply.headers['access-control-expose-headers']).includes('www-authenticate'));
    assert.match(String(reply.headers['www-authenticate']), /^Bearer resource_metadata="/);
    assert.match(String(reply.headers['vary']), /Origin/);
  });

  it('a session opened from an allowed origin exposes Mcp-Session-Id, and the calls on it are readable', async () => {
    const token = await env.token('alice');
    const init = await post(
      env,
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'page', version: '1' } } },
      headersFor(token, { origin: APP }),
    );
    assert.equal(init.status, 200, init.body);
    assert.equal(init.headers['access-control-allow-origin'], APP);
    assert.ok(listOf(init.headers['access-control-expose-headers']).includes('mcp-session-id'));
    const session = String(init.headers['mcp-session-id']);
    const list = await post(env, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headersFor(token, { origin: APP, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }));
    assert.equal(list.status, 200);
    assert.equal(list.headers['access-control-allow-origin'], APP);
    assert.ok(Array.isArray((messageOf(list)['result'] as { tools: unknown[] }).tools));
    const end = await send(env.publicUrl, { method: 'DELETE', path: '/mcp', headers: headersFor(token, { origin: APP, 'mcp-session-id': session }) });
    assert.equal(end.status, 204);
    assert.equal(end.headers['access-control-allow-origin'], APP);
  });

  it('a server client (no Origin) gets no Access-Control header, only Vary: Origin', async () => {
    const { token, session } = await openSession(env, 'bob');
    const reply = await post(env, { jsonrpc: '2.0', id: 3, method: 'ping' }, headersFor(token, { 'mcp-session-id': session }));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['access-control-allow-origin'], undefined);
    assert.match(String(reply.headers['vary']), /Origin/);
    const options = await send(env.publicUrl, { method: 'OPTIONS', path: '/mcp', headers: headersFor(token) });
    assert.equal(options.status, 405, 'OPTIONS that is no preflight is still not a method of the endpoint');
  });

  it('protected resource metadata is readable from any origin, preflight included', async () => {
    const url = '/.well-known/oauth-protected-resource/mcp';
    const got = await send(env.publicUrl, { method: 'GET', path: url, headers: { origin: 'https://any.example', 'mcp-protocol-version': '2025-11-25' } });
    assert.equal(got.status, 200);
    assert.equal(got.headers['access-control-allow-origin'], '*');
    assert.equal((JSON.parse(got.body) as { resource: string }).resource, env.mcpUrl);
    const pre = await preflight('https://any.example', 'mcp-protocol-version', url);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.match(String(pre.headers['access-control-allow-methods']), /GET/);
    assert.equal(pre.headers['access-control-allow-credentials'], undefined);
    const root = await send(env.publicUrl, { method: 'GET', path: '/.well-known/oauth-protected-resource', headers: { origin: 'https://any.example' } });
    assert.equal(root.headers['access-control-allow-origin'], '*');
    const jwks = await send(env.publicUrl, { method: 'OPTIONS', path: '/.well-known/jwks.json', headers: { origin: 'https://any.example', 'access-control-request-method': 'GET' } });
    assert.equal(jwks.status, 405, 'only the metadata is opened to pages');
  });
});
