import type { McpContext, McpDeps, McpStage } from '../doors/mcp/context.js';
import { isObject, parseRpcMessage, type RpcMessage } from '../doors/mcp/jsonrpc.js';
import { servesMethod } from '../doors/mcp/capabilities.js';
import { HEADER, META, MODERN_VERSION, RPC, SUPPORTED_VERSIONS } from '../doors/mcp/protocol.js';
import { checkParamHeaders, checkRoutingHeaders, headerValue } from '../doors/mcp/request-headers.js';
import { resolveCompletion, resolvePrompt, resolveResource } from '../doors/mcp/resolve-target.js';
import { rpcDeny } from '../doors/mcp/respond.js';
import { sameOwner } from '../doors/mcp/session-store.js';
import { bodyDigest } from '../lib/digest.js';
import { deny, type Deny } from '../pipeline/decision.js';
import { isJsonContentType, readBody } from '../lib/read-body.js';

/**
 * resolve (MCP): works out what is asked. For MCP the body names it, so the bounded body is
 * read here (after authenticate: an unauthenticated caller never makes the gateway buffer
 * anything) and parsed as one JSON-RPC message; then the era (session-based or stateless) and
 * its rules, the session and its owner, the method, and for `tools/call` the tool by exact name
 * (for a resource, prompt or completion, the upstream that serves it: doors/mcp/resolve-target.ts).
 * Last, the directory entry is joined to the identity.
 *
 * This does NOT validate tool arguments against their schema (screen does) nor decide anything
 * about the tool (authorize does); the mirrored headers of the stateless form are only compared
 * with the body, never used in their place.
 */
export const mcpResolveStage: McpStage = async (ctx, deps) => {
  const identity = ctx.identity;
  if (identity === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'resolve ran without an identity' });
  const headerVersion = headerValue(ctx.req.headers, HEADER.protocolVersion);
  if (headerVersion !== undefined && !SUPPORTED_VERSIONS.includes(headerVersion)) return unsupportedVersion(ctx, headerVersion);

  const denial =
    ctx.method === 'DELETE' ? await resolveDelete(ctx, deps, headerVersion) : ctx.method === 'GET' ? await resolveStream(ctx, deps, headerVersion) : await resolvePost(ctx, deps, headerVersion);
  if (denial !== undefined) return denial;

  const snapshot = deps.directory.snapshot();
  ctx.mcp.snapshot = snapshot;
  const user = snapshot.get(identity.id);
  if (user !== undefined) ctx.user = user;
  return undefined;
};

/** DELETE ends a session (protocols up to 2025-11-25); the stateless revision has none to end. */
async function resolveDelete(ctx: McpContext, deps: McpDeps, headerVersion: string | undefined): Promise<Deny | undefined> {
  ctx.mcp.rpcMethod = 'DELETE';
  if (headerVersion === MODERN_VERSION) {
    return deny(405, 'method-not-allowed', 'Method not allowed', { headers: { allow: 'POST' }, detail: 'DELETE in the stateless revision' });
  }
  ctx.mcp.era = 'legacy';
  return sessionOf(ctx, deps);
}

/** GET opens a session's stream (protocols up to 2025-11-25): it needs the session and must accept `text/event-stream`. */
async function resolveStream(ctx: McpContext, deps: McpDeps, headerVersion: string | undefined): Promise<Deny | undefined> {
  ctx.mcp.rpcMethod = 'GET';
  if (headerVersion === MODERN_VERSION) {
    return deny(405, 'method-not-allowed', 'Method not allowed', { headers: { allow: 'POST' }, detail: 'GET in the stateless revision' });
  }
  ctx.mcp.era = 'legacy';
  const accept = headerValue(ctx.req.headers, 'accept');
  if (accept === undefined || !/(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept)) {
    return rpcDeny(ctx, 406, 'bad-request', RPC.invalidRequest, 'Not Acceptable: a GET stream needs Accept: text/event-stream');
  }
  return sessionOf(ctx, deps);
}

async function resolvePost(ctx: McpContext, deps: McpDeps, headerVersion: string | undefined): Promise<Deny | undefined> {
  ctx.mcp.accepts = acceptsOf(headerValue(ctx.req.headers, 'accept'));
  if (!ctx.mcp.accepts.json && !ctx.mcp.accepts.sse) {
    return rpcDeny(ctx, 406, 'bad-request', RPC.invalidRequest, 'Not Acceptable: accept application/json or text/event-stream');
  }
  if (!isJsonContentType(headerValue(ctx.req.headers, 'content-type'))) {
    return rpcDeny(ctx, 415, 'bad-request', RPC.invalidRequest, 'Unsupported Media Type: Content-Type must be application/json');
  }
  const read = await readBody(ctx.req, deps.maxBodyBytes);
  if (!read.ok) {
    ctx.mcp.errorCode = RPC.invalidRequest;
    return read.decision;
  }
  if (read.body !== undefined) {
    ctx.body = read.body;
    ctx.bytesIn = read.body.length;
    ctx.bodyDigest = bodyDigest(read.body);
  }
  const parsed = parseRpcMessage(read.body);
  if (!parsed.ok) {
    if (parsed.problem.id !== undefined) ctx.mcp.rpcId = parsed.problem.id;
    return rpcDeny(ctx, 400, 'bad-request', parsed.problem.code, parsed.problem.message, { detail: parsed.problem.message });
  }
  const message = parsed.message;
  ctx.mcp.message = message;
  if (message.kind !== 'notification') ctx.mcp.rpcId = message.id;
  ctx.mcp.rpcMethod = message.kind === 'response' ? 'response' : printable(message.method);

  const modern =
    message.kind !== 'response' && message.method !== 'initialize' && (headerVersion === MODERN_VERSION || (isObject(message.params['_meta']) && Object.hasOwn(message.params['_meta'], META.protocolVersion)));
  if (modern) {
    const problem = checkModern(ctx, message, headerVersion);
    if (problem !== undefined) return problem;
  } else {
    ctx.mcp.era = 'legacy';
    if (!(message.kind === 'request' && message.method === 'initialize')) {
      const problem = await sessionOf(ctx, deps);
      if (problem !== undefined) return problem;
      // The session's negotiated version governs. A header naming another supported version is
      // accepted: the spec requires 400 only for an unsupported one (refused above), clients
      // SHOULD (not MUST) repeat the negotiated one, and the SDK's server accepts any supported
      // one (the conformance suite's server-sse-multiple-streams scenario relies on it).
      ctx.mcp.protocolVersion = ctx.mcp.session!.protocolVersion;
    }
  }
  if (message.kind !== 'request') return undefined;
  if (!servesMethod(deps, ctx.mcp.era, message.method)) {
    // The stateless revision answers an unknown method with 404 so it is not mistaken for a legacy server's 400.
    return rpcDeny(ctx, ctx.mcp.era === 'modern' ? 404 : 200, 'rpc-method-not-found', RPC.methodNotFound, `Method not found: ${ctx.mcp.rpcMethod}`);
  }
  const meta = message.params['_meta'];
  if (isObject(meta)) {
    const token = meta['progressToken'];
    if (typeof token === 'string' || (typeof token === 'number' && Number.isFinite(token))) ctx.mcp.progressToken = token;
  }
  switch (message.method) {
    case 'tools/call':
      return resolveTool(ctx, deps, message.params);
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return resolveResource(ctx, deps, message.params);
    case 'prompts/get':
      return resolvePrompt(ctx, deps, message.params);
    case 'completion/complete':
      return resolveCompletion(ctx, deps, message.params);
    default:
      return undefined;
  }
}

/**
 * The stateless revision's rules (spec 2026-07-28, transports and basic/index): the version is
 * in both the header and `_meta` and they agree; `clientCapabilities` is an object; the
 * routing headers match the body. Checked in that order so each failure gets its own code.
 */
function checkModern(ctx: McpContext, message: Exclude<RpcMessage, { kind: 'response' }>, headerVersion: string | undefined): Deny | undefined {
  ctx.mcp.era = 'modern';
  const meta = isObject(message.params['_meta']) ? message.params['_meta'] : {};
  const declared = meta[META.protocolVersion];
  if (headerVersion === undefined) return headerMismatch(ctx, 'MCP-Protocol-Version header is required');
  if (typeof declared !== 'string') return rpcDeny(ctx, 400, 'bad-request', RPC.invalidParams, `Invalid params: _meta["${META.protocolVersion}"] is required`);
  if (declared !== headerVersion) return headerMismatch(ctx, 'MCP-Protocol-Version header does not match _meta');
  if (declared !== MODERN_VERSION) return unsupportedVersion(ctx, declared);
  ctx.mcp.protocolVersion = declared;
  if (message.kind === 'notification') return undefined;
  if (!isObject(meta[META.clientCapabilities])) {
    return rpcDeny(ctx, 400, 'bad-request', RPC.invalidParams, `Invalid params: _meta["${META.clientCapabilities}"] is required`);
  }
  const mismatch = checkRoutingHeaders(ctx.req.headers, message.method, message.params);
  return mismatch === undefined ? undefined : headerMismatch(ctx, mismatch);
}

/** `tools/call`: the tool by exact name (a blocked one is as unknown as a missing one), and its arguments. */
function resolveTool(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const name = params['name'];
  if (typeof name !== 'string') return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: name must be a string');
  ctx.mcp.toolName = printable(name);
  const args = params['arguments'] ?? {};
  if (!isObject(args)) return rpcDeny(ctx, 200, 'invalid-arguments', RPC.invalidParams, 'Invalid params: arguments must be an object');
  ctx.mcp.args = args;
  const tool = deps.catalog.get(name);
  if (tool === undefined || tool.pin === 'blocked') {
    return rpcDeny(ctx, 200, tool === undefined ? 'route-not-found' : 'tool-definition-changed', RPC.invalidParams, `Unknown tool: ${ctx.mcp.toolName}`, {
      detail: tool === undefined ? 'no such tool' : 'tool blocked: its upstream definition changed since it was pinned',
    });
  }
  ctx.mcp.tool = tool;
  if (ctx.mcp.era === 'modern') {
    const mismatch = checkParamHeaders(ctx.req.headers, tool.definition, args);
    if (mismatch !== undefined) return headerMismatch(ctx, mismatch);
  }
  return undefined;
}

/**
 * The session a request names: 400 without the header, 404 when it is unknown, expired, or
 * opened by someone else. Another user's session gets the same 404 as a missing one, so a
 * session id learns nothing about whether it exists (the audit `detail` tells operators).
 *
 * This does NOT authenticate: the identity was verified by authenticate; a session id alone
 * proves nothing.
 */
async function sessionOf(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  const id = headerValue(ctx.req.headers, HEADER.sessionId);
  if (id === undefined) return rpcDeny(ctx, 400, 'session-required', RPC.invalidRequest, 'Bad Request: Mcp-Session-Id header is required');
  const session = /^[\x21-\x7e]{1,256}$/.test(id) ? await deps.sessions.touch(id) : undefined;
  const identity = ctx.identity!;
  if (session === undefined || !sameOwner(session.owner, { issuer: identity.issuer, user: identity.id })) {
    return rpcDeny(ctx, 404, 'session-not-found', RPC.invalidRequest, 'Session not found', {
      detail: session === undefined ? 'unknown or expired session' : 'session belongs to another user',
    });
  }
  ctx.mcp.session = session;
  return undefined;
}

function headerMismatch(ctx: McpContext, message: string): Deny {
  return rpcDeny(ctx, 400, 'header-mismatch', RPC.headerMismatch, `Header mismatch: ${message}`, { detail: message });
}

function unsupportedVersion(ctx: McpContext, requested: string): Deny {
  const shown = printable(requested);
  return rpcDeny(ctx, 400, 'protocol-version-unsupported', RPC.unsupportedProtocolVersion, 'Unsupported protocol version', {
    data: { supported: [...SUPPORTED_VERSIONS], requested: shown },
    detail: `version ${shown}`,
  });
}

/** Which response forms an Accept header allows (absent: any). `q=0` excludes a range. */
export function acceptsOf(accept: string | undefined): { json: boolean; sse: boolean } {
  if (accept === undefined || accept.trim() === '') return { json: true, sse: true };
  let json = false;
  let sse = false;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (params.some((p) => /^q=0(?:\.0*)?$/.test(p))) continue;
    if (range === '*/*' || range === 'application/*' || range === 'application/json') json = true;
    if (range === '*/*' || range === 'text/*' || range === 'text/event-stream') sse = true;
  }
  return { json, sse };
}

/** A client-chosen string as it may appear in an audit record or message: bounded, printable ASCII. */
function printable(value: string): string {
  return value.slice(0, 128).replace(/[^\x20-\x7e]/g, '?');
}
