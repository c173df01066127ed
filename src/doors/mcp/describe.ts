import { sessionRefOf } from '../../audit/session-ref.js';
import { auditString, printable } from '../../lib/printable.js';
import { parseTraceparent, traceOf } from '../../lib/trace-context.js';
import { isJsonContentType, readBody } from '../../lib/read-body.js';
import { digestAndDecode } from '../../lib/large-body.js';
import { MAX_URI_LENGTH } from '../../mcp-upstream/features.js';
import { deny, type Deny } from '../../pipeline/decision.js';
import type { Target } from '../../pipeline/target.js';
import { servesMethod } from './capabilities.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { isObject, parseRpcMessage, type RpcMessage } from './jsonrpc.js';
import { HEADER, META, MODERN_VERSION, RPC, SUPPORTED_VERSIONS } from './protocol.js';
import { checkRoutingHeaders, headerValue } from './request-headers.js';
import { rpcDeny } from './respond.js';
import { sameOwner } from './session-store.js';

/**
 * The MCP door's reader: what a request to the endpoint asks, as the neutral target. For MCP the
 * body names it, so the bounded body is read here (after authenticate: an unauthenticated caller
 * never makes the gateway buffer anything) and parsed as one JSON-RPC message; then the era
 * (session-based or stateless) and its rules, the session and its owner, the method, and what it
 * names: a tool call (`tools/call`), a resource (`resources/read`, `subscribe`, `unsubscribe`),
 * a prompt (`prompts/get`), a completion (`completion/complete`), or a protocol message the
 * gateway answers itself. Malformed params are refused here with the JSON-RPC code MCP defines.
 *
 * This does NOT look the names up (resolve does) nor validate tool arguments against their schema
 * (screen-in does); the mirrored headers of the stateless form are only compared with the body,
 * never used in their place.
 */
export async function describeMcp(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  const headerVersion = headerValue(ctx.req.headers, HEADER.protocolVersion);
  // A POST's refusal must carry its JSON-RPC id, so its version is checked once the body is read.
  if (ctx.method !== 'POST' && headerVersion !== undefined && !SUPPORTED_VERSIONS.includes(headerVersion)) return unsupportedVersion(ctx, headerVersion);
  if (ctx.method === 'DELETE') return describeDelete(ctx, deps, headerVersion);
  if (ctx.method === 'GET') return describeStream(ctx, deps, headerVersion);
  return describePost(ctx, deps, headerVersion);
}

/** DELETE ends a session (protocols up to 2025-11-25); the stateless revision has none to end. */
async function describeDelete(ctx: McpContext, deps: McpDeps, headerVersion: string | undefined): Promise<Deny | undefined> {
  ctx.operation = 'DELETE';
  if (headerVersion === MODERN_VERSION) {
    return deny(405, 'method-not-allowed', 'Method not allowed', { headers: { allow: 'POST' }, detail: 'DELETE in the stateless revision' });
  }
  ctx.mcp.era = 'legacy';
  return (await sessionOf(ctx, deps)) ?? message(ctx, 'DELETE');
}

/** GET opens a session's stream (protocols up to 2025-11-25): it needs the session and must accept `text/event-stream`. */
async function describeStream(ctx: McpContext, deps: McpDeps, headerVersion: string | undefined): Promise<Deny | undefined> {
  ctx.operation = 'GET';
  if (headerVersion === MODERN_VERSION) {
    return deny(405, 'method-not-allowed', 'Method not allowed', { headers: { allow: 'POST' }, detail: 'GET in the stateless revision' });
  }
  ctx.mcp.era = 'legacy';
  const accept = headerValue(ctx.req.headers, 'accept');
  if (accept === undefined || !/(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept)) {
    return rpcDeny(ctx, 406, 'bad-request', RPC.invalidRequest, 'Not Acceptable: a GET stream needs Accept: text/event-stream');
  }
  return (await sessionOf(ctx, deps)) ?? message(ctx, 'GET');
}

async function describePost(ctx: McpContext, deps: McpDeps, headerVersion: string | undefined): Promise<Deny | undefined> {
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
  let body: Buffer | string | undefined = read.body;
  if (read.body !== undefined) {
    ctx.body = read.body;
    ctx.bytesIn = read.body.length;
    const { digest, text } = await digestAndDecode(read.body, true);
    ctx.bodyDigest = digest;
    body = text;
  }
  const parsed = parseRpcMessage(body, deps.jsonBounds);
  if (!parsed.ok) {
    if (parsed.problem.id !== undefined) ctx.mcp.rpcId = parsed.problem.id;
    return rpcDeny(ctx, parsed.problem.status ?? 400, parsed.problem.reason ?? 'bad-request', parsed.problem.code, parsed.problem.message, { detail: parsed.problem.message });
  }
  const msg = parsed.message;
  ctx.mcp.message = msg;
  if (msg.kind !== 'notification') ctx.mcp.rpcId = msg.id;
  ctx.operation = msg.kind === 'response' ? 'response' : auditString(msg.method, 128);
  if (headerVersion !== undefined && !SUPPORTED_VERSIONS.includes(headerVersion)) return unsupportedVersion(ctx, headerVersion);

  // The stateless form is told by its header or its `_meta` version, whatever the method: an
  // `initialize` sent that way is a stateless request for a method the revision removed (404
  // -32601 below), never a session opened at an older version behind the client's back.
  const modern =
    msg.kind !== 'response' && (headerVersion === MODERN_VERSION || (isObject(msg.params['_meta']) && Object.hasOwn(msg.params['_meta'], META.protocolVersion)));
  if (modern) {
    const problem = checkModern(ctx, msg, headerVersion);
    if (problem !== undefined) return problem;
  } else {
    ctx.mcp.era = 'legacy';
    if (!(msg.kind === 'request' && msg.method === 'initialize')) {
      const problem = await sessionOf(ctx, deps);
      if (problem !== undefined) return problem;
      // The session's negotiated version governs. A header naming another supported version is
      // accepted: the spec requires 400 only for an unsupported one (refused above), clients
      // SHOULD (not MUST) repeat the negotiated one, and the SDK's server accepts any supported
      // one (the conformance suite's server-sse-multiple-streams scenario relies on it).
      ctx.mcp.protocolVersion = ctx.mcp.session!.protocolVersion;
    }
  }
  if (msg.kind !== 'request') return message(ctx, ctx.operation);
  if (!servesMethod(deps, ctx.mcp.era, msg.method)) {
    // The stateless revision answers an unknown method with 404 so it is not mistaken for a legacy server's 400.
    return rpcDeny(ctx, ctx.mcp.era === 'modern' ? 404 : 200, 'rpc-method-not-found', RPC.methodNotFound, `Method not found: ${ctx.operation}`);
  }
  const meta = msg.params['_meta'];
  if (isObject(meta)) {
    const token = meta['progressToken'];
    if (typeof token === 'string' || (typeof token === 'number' && Number.isFinite(token))) ctx.mcp.progressToken = token;
    // MCP's convention also carries trace context in `_meta`; a valid header wins.
    const traceparent = meta['traceparent'];
    if (ctx.trace.parentSpanId === undefined && typeof traceparent === 'string' && parseTraceparent(traceparent) !== undefined) {
      const tracestate = meta['tracestate'];
      ctx.trace = traceOf({ traceparent, tracestate: typeof tracestate === 'string' ? tracestate : undefined });
    }
  }
  return targetOf(ctx, msg.method, msg.params, msg.argumentsBytes);
}

/** What a request names, read from its params; the names are looked up by resolve. */
function targetOf(ctx: McpContext, method: string, params: Readonly<Record<string, unknown>>, argumentsBytes: number | undefined): Deny | undefined {
  switch (method) {
    case 'tools/call': {
      const name = params['name'];
      if (typeof name !== 'string') return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: name must be a string');
      const args = params['arguments'] ?? {};
      ctx.target = { kind: 'tool', name, arguments: isObject(args) ? args : {}, ...(argumentsBytes === undefined ? {} : { argumentsBytes }) };
      if (!isObject(args)) return rpcDeny(ctx, 200, 'invalid-arguments', RPC.invalidParams, 'Invalid params: arguments must be an object');
      return undefined;
    }
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe': {
      const uri = params['uri'];
      if (typeof uri !== 'string' || uri === '') return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: uri must be a non-empty string');
      ctx.target = { kind: 'resource', operation: method === 'resources/read' ? 'read' : method === 'resources/subscribe' ? 'subscribe' : 'unsubscribe', uri };
      if (uri.length > MAX_URI_LENGTH) return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: uri is too long');
      return undefined;
    }
    case 'prompts/get': {
      const name = params['name'];
      if (typeof name !== 'string') return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: name must be a string');
      const args = params['arguments'] ?? {};
      const strings = isObject(args) && Object.values(args).every((v) => typeof v === 'string');
      ctx.target = { kind: 'prompt', name, arguments: strings ? (args as Record<string, string>) : {} };
      if (!strings) return rpcDeny(ctx, 200, 'invalid-arguments', RPC.invalidParams, 'Invalid params: prompt arguments must be an object of strings');
      return undefined;
    }
    case 'completion/complete':
      return completionOf(ctx, params);
    default:
      return message(ctx, method);
  }
}

/**
 * `completion/complete`: `ref` names a prompt (`ref/prompt`, by namespaced name) or a resource
 * template (`ref/resource`, by its exact `uriTemplate`); `argument` has a string `name` and
 * `value`; `context.arguments` keeps its string members.
 */
function completionOf(ctx: McpContext, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const ref = params['ref'];
  const argument = params['argument'];
  if (!isObject(ref) || !isObject(argument) || typeof argument['name'] !== 'string' || typeof argument['value'] !== 'string') {
    return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: ref and argument { name, value } are required');
  }
  const context = params['context'];
  const given = isObject(context) ? context['arguments'] : undefined;
  const common = {
    kind: 'completion' as const,
    argument: { name: argument['name'], value: argument['value'] },
    ...(isObject(given) ? { given: Object.fromEntries(Object.entries(given).filter((e): e is [string, string] => typeof e[1] === 'string')) } : {}),
  };
  if (ref['type'] === 'ref/prompt' && typeof ref['name'] === 'string') {
    ctx.target = { ...common, ref: { kind: 'prompt', name: ref['name'] } };
    return undefined;
  }
  if (ref['type'] === 'ref/resource' && typeof ref['uri'] === 'string') {
    ctx.target = { ...common, ref: { kind: 'template', uri: ref['uri'] } };
    return undefined;
  }
  return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: ref must be a ref/prompt with a name or a ref/resource with a uri');
}

function message(ctx: McpContext, name: string): undefined {
  ctx.target = { kind: 'message', name } satisfies Target;
  return undefined;
}

/**
 * The stateless revision's rules (spec 2026-07-28, transports and basic/index): the version is
 * in both the header and `_meta` and they agree; `clientCapabilities` is an object; the
 * routing headers match the body. Checked in that order so each failure gets its own code.
 */
function checkModern(ctx: McpContext, msg: Exclude<RpcMessage, { kind: 'response' }>, headerVersion: string | undefined): Deny | undefined {
  ctx.mcp.era = 'modern';
  const meta = isObject(msg.params['_meta']) ? msg.params['_meta'] : {};
  const declared = meta[META.protocolVersion];
  if (headerVersion === undefined) return headerMismatch(ctx, 'MCP-Protocol-Version header is required');
  if (typeof declared !== 'string') return rpcDeny(ctx, 400, 'bad-request', RPC.invalidParams, `Invalid params: _meta["${META.protocolVersion}"] is required`);
  if (declared !== headerVersion) return headerMismatch(ctx, 'MCP-Protocol-Version header does not match _meta');
  if (declared !== MODERN_VERSION) return unsupportedVersion(ctx, declared);
  ctx.mcp.protocolVersion = declared;
  if (msg.kind === 'notification') return undefined;
  const capabilities = meta[META.clientCapabilities];
  if (!isObject(capabilities)) {
    return rpcDeny(ctx, 400, 'bad-request', RPC.invalidParams, `Invalid params: _meta["${META.clientCapabilities}"] is required`);
  }
  const elicitation = capabilities['elicitation'];
  ctx.mcp.urlElicitation = isObject(elicitation) && isObject(elicitation['url']);
  const mismatch = checkRoutingHeaders(ctx.req.headers, msg.method, msg.params);
  return mismatch === undefined ? undefined : headerMismatch(ctx, mismatch);
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
  ctx.session = sessionRefOf(session);
  return undefined;
}

/** The stateless revision's check of the `Mcp-Param-*` headers a tool declares, against the arguments. */
export function headerMismatch(ctx: McpContext, problem: string): Deny {
  return rpcDeny(ctx, 400, 'header-mismatch', RPC.headerMismatch, `Header mismatch: ${problem}`, { detail: problem });
}

function unsupportedVersion(ctx: McpContext, requested: string): Deny {
  const shown = printable(requested, 128);
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
