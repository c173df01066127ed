import type { Deny } from '../../pipeline/decision.js';
import { acknowledge, answer } from './answer.js';
import type { McpContext, McpDeps } from './context.js';
import { isObject } from './jsonrpc.js';
import { DISCOVER_TTL_MS, HEADER, LEGACY_VERSIONS, RPC, SERVER_CAPABILITIES, SERVER_INFO, SUPPORTED_VERSIONS } from './protocol.js';
import { rpcDeny } from './respond.js';
import { newSessionId } from './session-store.js';

/**
 * The protocol messages that touch no tool: `initialize` (opens a session), `ping`,
 * `server/discover`, notifications and client responses (acknowledged), DELETE (ends a session).
 */

/**
 * `initialize` (protocols up to 2025-11-25): settles the version (the client's if behalf speaks
 * it, else the newest behalf speaks; the client then decides whether to go on) and opens a
 * session owned by the caller. The session id goes back in `Mcp-Session-Id`.
 */
export async function initialize(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Promise<Deny | undefined> {
  const requested = params['protocolVersion'];
  if (typeof requested !== 'string') return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: protocolVersion must be a string');
  const version = (LEGACY_VERSIONS as readonly string[]).includes(requested) ? requested : LEGACY_VERSIONS[0];
  const identity = ctx.identity!;
  const clientInfo = params['clientInfo'];
  const clientName = isObject(clientInfo) && typeof clientInfo['name'] === 'string' ? printable(clientInfo['name']) : undefined;
  const id = newSessionId();
  await deps.sessions.create({
    id,
    owner: { issuer: identity.issuer, user: identity.id },
    protocolVersion: version,
    ...(clientName === undefined ? {} : { clientName }),
    createdAt: deps.now(),
  });
  ctx.mcp.protocolVersion = version;
  // Self-reported by the client: kept for operators, never used for a decision.
  ctx.detail = `protocol ${printable(requested)} -> ${version}${clientName === undefined ? '' : `; client says "${clientName}"`}`;
  return answer(ctx, deps, { protocolVersion: version, capabilities: SERVER_CAPABILITIES, serverInfo: SERVER_INFO }, { [HEADER.sessionId]: id });
}

/** `ping`: an empty result. */
export function ping(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  return answer(ctx, deps, {});
}

/**
 * `server/discover` (stateless revision): the versions and capabilities. The same for every
 * caller, so it may be cached publicly.
 */
export function discover(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  return answer(ctx, deps, {
    supportedVersions: [...SUPPORTED_VERSIONS],
    capabilities: SERVER_CAPABILITIES,
    serverInfo: SERVER_INFO,
    ttlMs: DISCOVER_TTL_MS,
    cacheScope: 'public',
  });
}

/**
 * A notification or a client's response: 202. `notifications/cancelled` aborts the named call of
 * the same session (resolve already checked that the session is the caller's).
 */
export function notification(ctx: McpContext, deps: McpDeps, method: string | undefined, params: Readonly<Record<string, unknown>>): Promise<Deny | undefined> {
  const session = ctx.mcp.session;
  if (method === 'notifications/cancelled' && session !== undefined) {
    const target = params['requestId'];
    if ((typeof target === 'string' || typeof target === 'number') && deps.inFlight.cancel(session.id, target, 'cancelled by the client')) {
      ctx.detail = 'cancelled a call in progress';
    }
  }
  return acknowledge(ctx, deps, 202);
}

/** DELETE: ends the caller's session (resolve checked it is theirs); 204. */
export async function endSession(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  const session = ctx.mcp.session;
  if (session !== undefined) await deps.sessions.delete(session.id);
  return acknowledge(ctx, deps, 204);
}

function printable(value: string): string {
  return value.slice(0, 64).replace(/[^\x20-\x7e]/g, '?');
}
