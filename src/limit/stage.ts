import type { ServerResponse } from 'node:http';
import { printable } from '../lib/printable.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { parseCost, type LimitLease, type Limiter, type LimitRequest, type LimitVerdict } from './limiter.js';

/**
 * limit: after authorize (an unauthenticated or unauthorized request is never counted), before
 * forward. Rate limits, quotas, concurrency and the runaway guard, keyed by the verified identity
 * and the target: a route by its id, a tool call by the tool's catalog name, and a resource read
 * or subscription, a prompt or a completion with no tool (rules that match no `tools` or `routes`
 * apply to them). The runaway guard compares what was called (method and path; the tool; the
 * protocol method and the URI or prompt) and the digest of the body or arguments. Protocol
 * messages (initialize, ping, lists, unsubscribe, notifications) are not counted. A refusal is a
 * 429 with `Retry-After` and the RateLimit fields (or a 503 when the store is down and
 * `limits.onStoreError` is `deny`); an allowed request carries the RateLimit fields on its
 * response. Concurrency slots are released when the response ends, however it ends (complete,
 * client abort, upstream failure, denial further on).
 *
 * This does NOT read any client header to build a key (X-Forwarded-For, X-User-Id, ... are
 * never consulted).
 */
export const limitStage: Stage = async (ctx, deps) => {
  const limiter = deps.limiter;
  if (limiter === undefined || !limiter.active) return undefined;
  const request = limitRequestOf(ctx);
  if (request === undefined) return undefined;
  const verdict = await checkUntilClose(ctx.res, limiter, request);
  if (!verdict.allow) return verdict.decision;
  if (verdict.detail !== undefined) ctx.detail = verdict.detail;
  return undefined;
};

/** What the limiter counts for this request; undefined for what is never counted. */
function limitRequestOf(ctx: RequestContext): LimitRequest | undefined {
  const identity = ctx.identity;
  const target = ctx.target;
  if (identity === undefined || target === undefined) return undefined;
  switch (target.kind) {
    case 'route':
      return { door: ctx.door, identity, route: target.route.id, method: ctx.method, call: { what: `${ctx.method} ${ctx.path}${ctx.search}`, digest: ctx.bodyDigest ?? '' } };
    case 'tool': {
      const tool = target.tool?.definition.name ?? target.name;
      return { door: ctx.door, identity, tool, method: ctx.method, call: { what: tool, digest: ctx.argumentsDigest ?? '' } };
    }
    case 'resource':
      if (target.operation === 'unsubscribe') return undefined;
      return featureRequest(ctx, identity, target.uri);
    case 'prompt':
      return featureRequest(ctx, identity, target.name);
    case 'completion':
      return featureRequest(ctx, identity, target.ref.kind === 'prompt' ? target.ref.name : target.ref.uri);
    case 'message':
      return undefined;
  }
}

function featureRequest(ctx: RequestContext, identity: NonNullable<RequestContext['identity']>, name: string): LimitRequest {
  return { door: ctx.door, identity, method: ctx.method, call: { what: `${ctx.operation ?? ''} ${printable(name, 512)}`, digest: ctx.argumentsDigest ?? '' } };
}

/**
 * Runs the check with a close listener already in place, so a response that ends (or a client
 * that goes away) while the check is still running releases the slots the check took. Sets the
 * RateLimit fields on an allowed response; with `limits.costs.header`, the lease is settled with
 * the cost the backend reported in that response header.
 */
export async function checkUntilClose(res: ServerResponse, limiter: Limiter, req: LimitRequest): Promise<LimitVerdict> {
  let lease: LimitLease | undefined;
  let closed = false;
  const costHeader = limiter.costHeader;
  const onClose = () => {
    closed = true;
    lease?.settle(costHeader === undefined ? undefined : parseCost(res.getHeader(costHeader)));
  };
  res.once('close', onClose);
  const verdict = await limiter.check(req);
  if (!verdict.allow || verdict.lease === undefined) res.off('close', onClose);
  if (!verdict.allow) return verdict;
  // Set before forward writes the head: forward's headers are merged over these, and the
  // backend's cost header can then be read back from the response when it ends.
  for (const [name, value] of Object.entries(verdict.headers)) res.setHeader(name, value);
  if (verdict.lease !== undefined) {
    lease = verdict.lease;
    if (closed) lease.settle();
  }
  return verdict;
}
