import { trackRequest } from './in-flight.js';
import type { ServingUpstream } from '../../mcp-upstream/feature-index.js';
import type { RelayedMethod, UpstreamFailure } from '../../mcp-upstream/requests.js';
import { withClientChannel } from '../../mcp-upstream/transport.js';
import type { Deny } from '../../pipeline/decision.js';
import type { Reason } from '../../pipeline/reasons.js';
import { answer } from './answer.js';
import { cancelled } from './call-tool.js';
import { openClientChannel } from './client-channel.js';
import type { McpContext, McpDeps } from './context.js';
import { BEHALF_RPC, RPC } from './protocol.js';
import { rpcDeny } from './respond.js';

/**
 * A request the door answers by asking an upstream (`resources/read`, `prompts/get`,
 * `completion/complete`, `resources/subscribe`): sent with the verified identity, cancelled when
 * the client cancels it (`notifications/cancelled`) or goes away, with what the upstream sends
 * meanwhile relayed to the client (log messages, sampling and elicitation requests). The answer
 * is `shape(result)`: only the fields MCP defines for the method, never the upstream's `_meta`.
 */
export async function relayRequest(
  ctx: McpContext,
  deps: McpDeps,
  upstream: ServingUpstream,
  method: RelayedMethod,
  params: Readonly<Record<string, unknown>>,
  shape: (result: Readonly<Record<string, unknown>>) => Record<string, unknown>,
): Promise<Deny | undefined> {
  const tracked = trackRequest(ctx.res, deps.inFlight, ctx.mcp.session?.id, ctx.mcp.rpcId);
  const channel = openClientChannel(ctx, deps, tracked.signal);
  ctx.mcp.upstream = upstream.id;
  let reply;
  try {
    reply = await withClientChannel(channel, () => upstream.request(method, params, { identity: ctx.identity!, requestId: ctx.requestId, signal: tracked.signal }));
  } catch (err) {
    if (tracked.signal.aborted) return cancelled(ctx, deps, tracked.gone);
    throw err;
  } finally {
    channel.close();
    tracked.release();
  }
  if (tracked.signal.aborted) return cancelled(ctx, deps, tracked.gone);
  if (!reply.ok) return upstreamFailed(ctx, reply.failure);
  return answer(ctx, deps, shape(reply.result));
}

/** JSON-RPC codes of an upstream's refusal that mean the same to the client; any other becomes "upstream error". */
const PASSED_ON: ReadonlyMap<number, string> = new Map([
  [-32002, 'Resource not found'],
  [RPC.invalidParams, 'Invalid params'],
  [RPC.methodNotFound, 'Method not found'],
]);

/**
 * The upstream gave no result: a JSON-RPC error (HTTP 200) the model can read. Unreachable, too
 * slow or broken: `-31502` / `-31504` with reason `upstream-unavailable`, `upstream-timeout` or
 * `upstream-error`; an upstream refusal with a code the client understands (resource not found,
 * invalid params, method not found) keeps its code, with the standard message, never the
 * upstream's. The audit `detail` says what happened.
 */
export function upstreamFailed(ctx: McpContext, failure: UpstreamFailure): Deny {
  const detail = { detail: failure.detail };
  switch (failure.kind) {
    case 'unavailable':
      return rpcDeny(ctx, 200, 'upstream-unavailable', BEHALF_RPC.badGateway, 'upstream unavailable', detail);
    case 'timeout':
      return rpcDeny(ctx, 200, 'upstream-timeout', BEHALF_RPC.gatewayTimeout, 'upstream timed out', detail);
    case 'rejected': {
      const message = failure.code === undefined ? undefined : PASSED_ON.get(failure.code);
      const reason: Reason = failure.code === -32002 ? 'route-not-found' : 'upstream-error';
      return message === undefined ? rpcDeny(ctx, 200, reason, BEHALF_RPC.badGateway, 'upstream error', detail) : rpcDeny(ctx, 200, reason, failure.code!, message, detail);
    }
    default:
      return rpcDeny(ctx, 200, 'upstream-error', BEHALF_RPC.badGateway, 'upstream error', detail);
  }
}
