import type { ServingUpstream } from '../mcp-upstream/feature-index.js';
import type { RelayedMethod, UpstreamFailure } from '../mcp-upstream/requests.js';
import { withClientChannel } from '../mcp-upstream/transport.js';
import type { RequestContext } from '../pipeline/context.js';
import { deny, type Deny } from '../pipeline/decision.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import type { Door } from '../pipeline/door.js';
import { nestsDeeper } from '../lib/json-depth.js';
import { throughChannel } from './call-channel.js';

/**
 * Sends a request to the upstream MCP server that serves what it names (`resources/read`,
 * `prompts/get`, `completion/complete`, `resources/subscribe`), with the verified identity (the
 * upstream requester signs it, forward/identity/), cancelled when the client cancels or goes
 * away, with what the upstream sends meanwhile relayed to the client through the door's call
 * channel. The upstream's result is the outcome; a failure is a denial with the upstream reasons:
 * unreachable (502 `upstream-unavailable`), too slow (504 `upstream-timeout`), broken or refused
 * (502 `upstream-error`; a refusal whose code MCP defines for clients too is kept in
 * `upstreamCode`, and "resource not found" is 404 `route-not-found`). The detail says what
 * happened, for the audit record only.
 *
 * A result nested deeper than `server.maxJsonDepth` is not passed on (502 `upstream-error`, the
 * detail saying so): nothing has read it yet but the SDK's parser.
 *
 * This does NOT bound the size of the result (docs/mcp.md) and does NOT decide anything.
 */
export async function requestUpstream(
  ctx: RequestContext,
  deps: PipelineDeps,
  door: Door,
  upstream: ServingUpstream,
  method: RelayedMethod,
  params: Readonly<Record<string, unknown>>,
): Promise<Deny | undefined> {
  const identity = ctx.identity;
  if (identity === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'forward ran before authenticate' });
  const call = door.openCall(ctx, true);
  ctx.backend = upstream.id;
  const send = () => upstream.request(method, params, { identity, requestId: ctx.requestId, trace: ctx.trace, signal: call.signal });
  const reply = await throughChannel(ctx, call, () => (call.relay === undefined ? send() : withClientChannel(call.relay, send)));
  if (reply === undefined) return undefined;
  if (!reply.ok) return upstreamFailed(reply.failure);
  const maxDepth = deps.config.server.maxJsonDepth;
  if (nestsDeeper(reply.result, maxDepth)) {
    return deny(502, 'upstream-error', 'upstream error', { detail: `upstream ${upstream.id} answered a ${method} result nested deeper than ${maxDepth} levels` });
  }
  ctx.outcome = { kind: 'upstream', result: reply.result };
  return undefined;
}

/** Codes of an upstream's refusal that mean the same to the client: resource not found, invalid params, method not found. */
const PASSED_ON = new Set([-32002, -32602, -32601]);

/** The denial for an upstream that gave no result. */
export function upstreamFailed(failure: UpstreamFailure): Deny {
  const detail = failure.detail;
  switch (failure.kind) {
    case 'unavailable':
      return deny(502, 'upstream-unavailable', 'upstream unavailable', { detail });
    case 'timeout':
      return deny(504, 'upstream-timeout', 'upstream timed out', { detail });
    case 'rejected': {
      const code = failure.code;
      if (code === undefined || !PASSED_ON.has(code)) return deny(502, 'upstream-error', 'upstream error', { detail });
      return code === -32002
        ? deny(404, 'route-not-found', 'resource not found', { detail, upstreamCode: code })
        : deny(502, 'upstream-error', 'upstream error', { detail, upstreamCode: code });
    }
    default:
      return deny(502, 'upstream-error', 'upstream error', { detail });
  }
}
