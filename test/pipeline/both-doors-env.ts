/**
 * The gateway the both-doors table runs against: one dev IdP and one gateway sharing an injected
 * clock, one recording backend, and for every backend behaviour (answers, down, slow, limited)
 * an HTTP route AND a config-declared MCP tool that calls that same route. Each door is then
 * driven by raw HTTP, so the test sees exactly what a client sees: the HTTP door's JSON denial,
 * or the MCP door's JSON-RPC message, in the session-based (2025-11-25) or the stateless
 * (2026-07-28) form.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEMO_USERS, freePort } from '../../examples/hr-demo/launch.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { validateConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { readAuditTrail } from '../audit/helpers.js';
import { send, type Reply } from '../e2e/bounded-client.js';
import { startRecordingBackend, type RecordingBackend } from '../e2e/harness.js';
import { headersFor, messageOf, stateless } from '../mcp/door/wire.js';

/** 2030-01-01T00:00:00Z: far from the real date, so a stage that ignores the injected clock shows. */
export const CLOCK_START_MS = Date.UTC(2030, 0, 1);

/** Backend timeout of the `slow` route (and so of the `slow_ping` tool), ms. */
export const SLOW_TIMEOUT_MS = 250;

/** The audience the `hr` route's signed assertion carries; the backend checks it. */
export const HR_AUDIENCE = 'hr-backend';

/** A clock only the test moves. */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

/** A running {@link startBothDoorsEnv}: everything on 127.0.0.1, the gateway and the IdP on {@link TestClock}. */
export interface BothDoorsEnv {
  gateway: Gateway;
  idp: DevIdp;
  backend: RecordingBackend;
  clock: TestClock;
  /** The gateway's public URL: the HTTP door's resource (and audience). */
  publicUrl: string;
  /** `<publicUrl>/mcp`: the MCP door's resource (and audience). */
  mcpUrl: string;
  /** The audit trail so far, in seq order. */
  auditRecords(): Promise<StoredAuditRecord[]>;
  close(): Promise<void>;
}

/**
 * The policy, the same on both doors: each route rule has its tool twin. `hr:read` guards the
 * profile; salaries have no rule at all; secrets have an allow rule that a deny rule overrides.
 */
function policies(): ConfigInput['policies'] {
  return [
    { id: 'no-secrets', effect: 'deny', match: { routes: ['hr'], paths: ['/api/hr/secrets'] } },
    { id: 'no-secrets-tool', effect: 'deny', match: { tools: ['hr_secrets'] } },
    { id: 'read-profile', effect: 'allow', match: { routes: ['hr'], methods: ['GET'], paths: ['/api/hr/profile'] }, scopes: ['hr:read'] },
    { id: 'read-profile-tool', effect: 'allow', match: { tools: ['hr_profile'] }, scopes: ['hr:read'] },
    { id: 'read-secrets', effect: 'allow', match: { routes: ['hr'], paths: ['/api/hr/secrets'] } },
    { id: 'read-secrets-tool', effect: 'allow', match: { tools: ['hr_secrets'] } },
    { id: 'ping-anything', effect: 'allow', match: { routes: ['down', 'slow', 'limited'] } },
    { id: 'ping-anything-tool', effect: 'allow', match: { tools: ['down_ping', 'slow_ping', 'limited_ping'] } },
  ];
}

/** A read-only config tool that GETs `path` under `route`'s upstream. */
function getTool(name: string, route: string, path: string): NonNullable<ConfigInput['tools']>[number] {
  return {
    name,
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    annotations: { readOnlyHint: true },
    call: { route, method: 'GET', path },
  };
}

/**
 * Starts backend, IdP and gateway. The backend answers `200 {"ok":true}` to everything except
 * `/slow/...`, which it never answers; the `down` route points at a port nothing listens on.
 */
export async function startBothDoorsEnv(): Promise<BothDoorsEnv> {
  let nowMs = CLOCK_START_MS;
  const clock: TestClock = { now: () => nowMs, advance: (ms) => void (nowMs += ms) };
  const backend = await startRecordingBackend((req, res) => {
    if (req.url?.startsWith('/slow') === true) return; // never answers; closed with the backend
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  const deadPort = await freePort();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const mcpUrl = `${publicUrl}/mcp`;
  const idp = await startDevIdp({ users: DEMO_USERS, audience: [publicUrl, mcpUrl], defaultScopes: ['hr:read'], now: clock.now, log: () => undefined });
  const dir = await mkdtemp(join(tmpdir(), 'behalf-both-doors-'));
  const validated = validateConfig({
    server: { port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl, jwksUri: idp.jwksUri, requireType: 'at+jwt' }],
    routes: [
      { id: 'hr', path: '/api/hr', upstream: `${backend.url}/hr`, audience: HR_AUDIENCE, identityHeaders: { 'X-User-Id': '{user.id}' } },
      { id: 'down', path: '/api/down', upstream: `http://127.0.0.1:${deadPort}/down`, connectTimeoutMs: 1_000 },
      { id: 'slow', path: '/api/slow', upstream: `${backend.url}/slow`, timeoutMs: SLOW_TIMEOUT_MS },
      { id: 'limited', path: '/api/limited', upstream: `${backend.url}/limited` },
    ],
    mcp: {},
    tools: [
      getTool('hr_profile', 'hr', '/profile'),
      getTool('hr_salaries', 'hr', '/salaries'),
      getTool('hr_secrets', 'hr', '/secrets'),
      getTool('down_ping', 'down', '/ping'),
      getTool('slow_ping', 'slow', '/ping'),
      getTool('limited_ping', 'limited', '/ping'),
    ],
    policies: policies(),
    limits: {
      rules: [
        { id: 'limited-route', match: { routes: ['limited'] }, key: ['user'], rate: { limit: 1, windowSeconds: 60 } },
        { id: 'limited-tool', match: { tools: ['limited_ping'] }, key: ['user'], rate: { limit: 1, windowSeconds: 60 } },
      ],
    },
    signing: { keyFile: join(dir, 'keys.json') },
    audit: { store: join(dir, 'audit') },
  });
  if (!validated.ok) throw new Error(`test config invalid: ${validated.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const config = validated.config;
  const gateway = await startGateway({ config, baseDir: dir, file: join(dir, 'behalf.yaml') }, { logger: pino({ level: 'silent' }), now: clock.now });
  return {
    gateway,
    idp,
    backend,
    clock,
    publicUrl,
    mcpUrl,
    auditRecords: () => readAuditTrail(config.audit, dir),
    async close() {
      await gateway.close();
      await idp.close();
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An HTTP-door request: method and path on the gateway. */
export interface HttpCall {
  method: string;
  path: string;
  /** Sent as is with `Content-Type: application/json`. */
  body?: string;
}

/** An MCP-door `tools/call`; `rawBody` replaces the whole JSON-RPC message (to send what no client would). */
export interface McpCall {
  tool: string;
  args?: Record<string, unknown>;
  rawBody?: string;
}

/** Sends `call` to the HTTP door with `authorization` (absent: no header). */
export function sendHttp(env: BothDoorsEnv, call: HttpCall, authorization: string | undefined): Promise<Reply> {
  const headers: OutgoingHttpHeaders = authorization === undefined ? {} : { authorization };
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  return send(env.publicUrl, { method: call.method, path: call.path, headers, ...(call.body === undefined ? {} : { body: call.body }) });
}

let rpcId = 1_000;

/**
 * Sends `call` to the MCP door as a stateless (2026-07-28) request: one POST, no session, the
 * version and capabilities in `_meta` and mirrored in headers.
 */
export function sendMcpStateless(env: BothDoorsEnv, call: McpCall, authorization: string | undefined): Promise<Reply> {
  const { body, headers } = stateless('', 'tools/call', { name: call.tool, arguments: call.args ?? {} }, { id: rpcId++ });
  // The helper always adds a bearer header; the table decides whether there is one.
  const { authorization: _placeholder, ...rest } = headers;
  const sent = authorization === undefined ? rest : { ...rest, authorization };
  return send(env.publicUrl, { method: 'POST', path: '/mcp', headers: sent, body: call.rawBody ?? JSON.stringify(body) });
}

/** An open session-based (2025-11-25) MCP session: its id, opened with some valid token. */
export interface McpSession {
  id: string;
  /** Request ids of `initialize` and `notifications/initialized` (they are audited too). */
  requestIds: string[];
}

/** `initialize` then `notifications/initialized` with `authorization`, as an SDK client does. */
export async function openMcpSession(env: BothDoorsEnv, authorization: string): Promise<McpSession> {
  const token = authorization.replace(/^Bearer /, '');
  const init = await send(env.publicUrl, {
    method: 'POST',
    path: '/mcp',
    headers: headersFor(token),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'both-doors', version: '1' } } }),
  });
  assert.equal(init.status, 200, init.body);
  const id = String(init.headers['mcp-session-id'] ?? '');
  assert.notEqual(id, '', 'initialize returned no session id');
  const initialized = await send(env.publicUrl, {
    method: 'POST',
    path: '/mcp',
    headers: headersFor(token, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' }),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  assert.equal(initialized.status, 202, initialized.body);
  return { id, requestIds: [String(init.headers['x-request-id']), String(initialized.headers['x-request-id'])] };
}

/** Sends `call` to the MCP door as a `tools/call` in `session` (session-based form, 2025-11-25). */
export function sendMcpSession(env: BothDoorsEnv, session: McpSession, call: McpCall, authorization: string | undefined): Promise<Reply> {
  const headers: OutgoingHttpHeaders = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-session-id': session.id,
    'mcp-protocol-version': '2025-11-25',
    ...(authorization === undefined ? {} : { authorization }),
  };
  const body = call.rawBody ?? JSON.stringify({ jsonrpc: '2.0', id: rpcId++, method: 'tools/call', params: { name: call.tool, arguments: call.args ?? {} } });
  return send(env.publicUrl, { method: 'POST', path: '/mcp', headers, body });
}

/** What a client of either door sees, reduced to what the table compares. */
export interface ClientView {
  status: number;
  /** HTTP door: `error` of the JSON body; MCP door: `error.data.reason`. Absent for a success or an `isError` result. */
  reason?: string;
  /** MCP door: the JSON-RPC error code. */
  rpcCode?: number;
  /** MCP door: the result carried `isError: true` (a backend failure the model sees). */
  isError?: boolean;
  /** What the backend answered, as the client got it: the HTTP body of a success, or the first text block of an MCP result. */
  answer?: string;
  requestId: string;
  wwwAuthenticate?: string;
  retryAfter?: string;
}

/** Reads an HTTP-door reply: a JSON denial `{ error, message, requestId }`, or the backend's answer. */
export function httpView(reply: Reply): ClientView {
  const view: ClientView = { status: reply.status, requestId: String(reply.headers['x-request-id'] ?? '') };
  if (reply.status < 400) view.answer = reply.body;
  else {
    const json = JSON.parse(reply.body) as { error?: string; requestId?: string };
    if (json.error !== undefined) view.reason = json.error;
    assert.equal(json.requestId, view.requestId, 'the denial body and X-Request-Id name the same request');
  }
  return withHeaders(view, reply);
}

/** Reads an MCP-door reply: a JSON-RPC error (`data.reason`), or a result (maybe `isError`). */
export function mcpView(reply: Reply): ClientView {
  const view: ClientView = { status: reply.status, requestId: String(reply.headers['x-request-id'] ?? '') };
  const message = messageOf(reply);
  assert.equal(message['jsonrpc'], '2.0', `not a JSON-RPC message: ${reply.body.slice(0, 200)}`);
  const error = message['error'] as { code: number; data?: { reason?: string; requestId?: string } } | undefined;
  if (error !== undefined) {
    view.rpcCode = error.code;
    if (error.data?.reason !== undefined) view.reason = error.data.reason;
    assert.equal(error.data?.requestId, view.requestId, 'error.data.requestId and X-Request-Id name the same request');
  } else {
    const result = message['result'] as { isError?: boolean; content?: { type: string; text?: string }[] } | undefined;
    assert.ok(result, `neither error nor result: ${reply.body.slice(0, 200)}`);
    if (result.isError === true) view.isError = true;
    const text = result.content?.find((c) => c.type === 'text')?.text;
    if (text !== undefined) view.answer = text;
  }
  return withHeaders(view, reply);
}

function withHeaders(view: ClientView, reply: Reply): ClientView {
  const challenge = reply.headers['www-authenticate'];
  if (typeof challenge === 'string') view.wwwAuthenticate = challenge;
  const retryAfter = reply.headers['retry-after'];
  if (typeof retryAfter === 'string') view.retryAfter = retryAfter;
  return view;
}
