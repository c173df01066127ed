/** Raw HTTP to the MCP endpoint, for the wire details an SDK client hides. */
import assert from 'node:assert/strict';
import type { OutgoingHttpHeaders } from 'node:http';
import { send, type Reply } from '../../e2e/bounded-client.js';
import type { DoorEnv } from './harness.js';

/** Headers of a well-behaved legacy client, plus `extra`. */
export function headersFor(token: string | undefined, extra: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    ...extra,
  };
}

/** POSTs `body` (an object is JSON-encoded; a string is sent as is) to `/mcp`. */
export function post(env: DoorEnv, body: unknown, headers: OutgoingHttpHeaders): Promise<Reply> {
  return send(env.publicUrl, { method: 'POST', path: '/mcp', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** Opens a legacy session as `user`: initialize + initialized. Returns the token and session id. */
export async function openSession(env: DoorEnv, user: string, opts?: Parameters<DoorEnv['token']>[1]): Promise<{ token: string; session: string }> {
  const token = await env.token(user, opts);
  const init = await post(
    env,
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'wire-test', version: '1' } } },
    headersFor(token),
  );
  assert.equal(init.status, 200, init.body);
  const session = String(init.headers['mcp-session-id'] ?? '');
  assert.match(session, /^[A-Za-z0-9_-]{22}$/, 'session id: 128 bits, base64url');
  const initialized = await post(env, { jsonrpc: '2.0', method: 'notifications/initialized' }, headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }));
  assert.equal(initialized.status, 202);
  return { token, session };
}

/** The JSON-RPC message of a reply: the JSON body, or the last `data:` event of an SSE body. */
export function messageOf(reply: Reply): Record<string, unknown> {
  if (String(reply.headers['content-type']).startsWith('text/event-stream')) {
    const events = sseMessages(reply.body);
    assert.ok(events.length > 0, 'empty event stream');
    return events.at(-1)!;
  }
  return JSON.parse(reply.body) as Record<string, unknown>;
}

/** Every JSON message of an SSE body, in order. */
export function sseMessages(body: string): Record<string, unknown>[] {
  return body
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
}

/** Asserts a JSON-RPC error reply: HTTP status, code, and that `data.requestId` is the `X-Request-Id`. Returns the error. */
export function assertRpcError(reply: Reply, status: number, code: number, what: string): { code: number; message: string; data?: Record<string, unknown> } {
  assert.equal(reply.status, status, `${what}: status (body ${reply.body.slice(0, 300)})`);
  const message = messageOf(reply);
  assert.equal(message['jsonrpc'], '2.0', `${what}: jsonrpc`);
  const error = message['error'] as { code: number; message: string; data?: Record<string, unknown> } | undefined;
  assert.ok(error, `${what}: not an error: ${reply.body.slice(0, 300)}`);
  assert.equal(error.code, code, `${what}: code (${error.message})`);
  assert.equal(error.data?.['requestId'], reply.headers['x-request-id'], `${what}: request id`);
  return error;
}

/** The stateless (2026-07-28) form of a request: `_meta` in the body and the mirrored headers. */
export function stateless(
  token: string,
  method: string,
  params: Record<string, unknown> = {},
  opts: { id?: number; headers?: OutgoingHttpHeaders; meta?: Record<string, unknown> } = {},
): { body: Record<string, unknown>; headers: OutgoingHttpHeaders } {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'wire-test', version: '1' },
    ...opts.meta,
  };
  const name = typeof params['name'] === 'string' ? { 'mcp-name': params['name'] } : {};
  return {
    body: { jsonrpc: '2.0', id: opts.id ?? 1, method, params: { ...params, _meta: meta } },
    headers: headersFor(token, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...name, ...opts.headers }),
  };
}
