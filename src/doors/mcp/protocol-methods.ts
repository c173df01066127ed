import { sessionRef } from '../../audit/session-ref.js';
import type { Deny } from '../../pipeline/decision.js';
import { acknowledge, answer } from './answer.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { serverCapabilities } from './capabilities.js';
import { isObject, type ClientAnswer, type RpcId } from './jsonrpc.js';
import { DISCOVER_TTL_MS, HEADER, LEGACY_VERSIONS, RPC, SERVER_INFO, SUPPORTED_VERSIONS } from './protocol.js';
import { rpcDeny } from './respond.js';
import { LOG_LEVELS, newSessionId, type LogLevel, type SessionClientCapabilities } from './session-store.js';
import { printable } from '../../lib/printable.js';

/**
 * The protocol messages that touch no tool: `initialize` (opens a session), `ping`,
 * `server/discover`, `logging/setLevel`, notifications and client responses (acknowledged; a
 * response to a relayed request is handed to it), DELETE (ends a session).
 */

/**
 * `initialize` (protocols up to 2025-11-25): settles the version (the client's if behalf speaks
 * it, else the newest behalf speaks; the client then decides whether to go on) and opens a
 * session owned by the caller, remembering whether the client takes sampling and elicitation
 * requests (for relaying an upstream's). The session id goes back in `Mcp-Session-Id`.
 */
export async function initialize(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Promise<Deny | undefined> {
  const requested = params['protocolVersion'];
  if (typeof requested !== 'string') return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: protocolVersion must be a string');
  const version = (LEGACY_VERSIONS as readonly string[]).includes(requested) ? requested : LEGACY_VERSIONS[0];
  const identity = ctx.identity!;
  const clientInfo = params['clientInfo'];
  const clientName = isObject(clientInfo) && typeof clientInfo['name'] === 'string' ? printable(clientInfo['name'], 64) : undefined;
  const id = newSessionId();
  await deps.sessions.create({
    id,
    owner: { issuer: identity.issuer, user: identity.id },
    protocolVersion: version,
    ...(clientName === undefined ? {} : { clientName }),
    createdAt: deps.now(),
    clientCapabilities: clientCapabilitiesOf(params['capabilities']),
  });
  ctx.mcp.protocolVersion = version;
  ctx.session = sessionRef(id);
  // Self-reported by the client: kept for operators, never used for a decision.
  ctx.detail = `protocol ${printable(requested, 64)} -> ${version}${clientName === undefined ? '' : `; client says "${clientName}"`}`;
  return answer(ctx, { protocolVersion: version, capabilities: serverCapabilities(deps, 'legacy'), serverInfo: SERVER_INFO }, { [HEADER.sessionId]: id });
}

/** The part of a client's `initialize` capabilities the door relays to: booleans only, so a session holds nothing the client can grow. */
function clientCapabilitiesOf(capabilities: unknown): SessionClientCapabilities {
  if (!isObject(capabilities)) return { sampling: false, elicitation: false };
  const elicitation = capabilities['elicitation'];
  // An empty `elicitation` object means form mode (spec 2025-11-25, for clients written before modes).
  const form = isObject(elicitation) && (isObject(elicitation['form']) || !Object.hasOwn(elicitation, 'url'));
  return { sampling: isObject(capabilities['sampling']), elicitation: form, urlElicitation: isObject(elicitation) && isObject(elicitation['url']) };
}

/** `ping`: an empty result. */
export function ping(ctx: McpContext): Deny | undefined {
  return answer(ctx, {});
}

/**
 * `server/discover` (stateless revision): the versions and capabilities. The same for every
 * caller, so it may be cached publicly.
 */
export function discover(ctx: McpContext, deps: McpDeps): Deny | undefined {
  return answer(ctx, {
    supportedVersions: [...SUPPORTED_VERSIONS],
    capabilities: serverCapabilities(deps, 'modern'),
    serverInfo: SERVER_INFO,
    ttlMs: DISCOVER_TTL_MS,
    cacheScope: 'public',
  });
}

/**
 * A notification or a client's response: 202. `notifications/cancelled` aborts the named call of
 * the same session (resolve already checked that the session is the caller's).
 */
export function notification(ctx: McpContext, deps: McpDeps, method: string | undefined, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const session = ctx.mcp.session;
  if (method === 'notifications/cancelled' && session !== undefined) {
    const target = params['requestId'];
    if ((typeof target === 'string' || typeof target === 'number') && deps.inFlight.cancel(session.id, target, 'cancelled by the client')) {
      ctx.detail = 'cancelled a call in progress';
    }
  }
  return acknowledge(ctx, 202);
}

/**
 * A client's response (202): when it answers a request the door relayed to this session's client
 * (a `sampling/createMessage` of an upstream, say), the waiting upstream gets it. Any other
 * response is acknowledged and dropped, as the spec asks of a server that did not send the
 * request.
 */
export function clientResponse(ctx: McpContext, deps: McpDeps, id: RpcId, answer: ClientAnswer): Deny | undefined {
  const session = ctx.mcp.session;
  const pending = session === undefined ? undefined : deps.clientRequests.settle(session.id, id, answer);
  if (pending === undefined) ctx.detail = 'a response to no waiting request: dropped';
  else {
    ctx.backend = pending.upstream;
    ctx.detail = `${answer.ok ? 'result' : `error ${answer.code}`} for the ${pending.method} relayed from upstream ${pending.upstream}`;
  }
  return acknowledge(ctx, 202);
}

/**
 * `logging/setLevel` (session-based clients): the least severe upstream log message this session
 * gets from now on. Not passed to the upstreams: their sessions are shared by every user, so they
 * send every level and the door filters per session.
 */
export async function setLogLevel(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Promise<Deny | undefined> {
  const level = params['level'];
  if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
    return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, `Invalid params: level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const session = ctx.mcp.session;
  if (session !== undefined) await deps.sessions.setLogLevel(session.id, level as LogLevel);
  ctx.detail = `log level ${level}`;
  return answer(ctx, {});
}

/** DELETE: ends the caller's session (resolve checked it is theirs), its stream and its subscriptions; 204. */
export async function endSession(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  const session = ctx.mcp.session;
  if (session !== undefined) {
    await deps.sessions.delete(session.id);
    deps.streams.close(session.id);
    deps.subscriptions.dropSession(session.id);
  }
  return acknowledge(ctx, 204);
}
