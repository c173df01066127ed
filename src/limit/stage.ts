import type { ServerResponse } from 'node:http';
import { deny } from '../pipeline/decision.js';
import type { Stage } from '../pipeline/pipeline.js';
import { parseCost, type LimitLease, type Limiter, type LimitRequest, type LimitVerdict } from './limiter.js';

/**
 * limit (HTTP door): after authorize, before the audit gate and forward. Rate limits, quotas,
 * concurrency and the runaway guard, keyed by the verified identity and the resolved route. A
 * refusal is a 429 with `Retry-After` and the RateLimit fields (or a 503 when the store is down
 * and `limits.onStoreError` is `deny`); an allowed request carries the RateLimit fields on its
 * response. Concurrency slots are released when the response ends, however it ends (complete,
 * client abort, upstream failure, denial further on).
 *
 * This does NOT read any client header to build a key (X-Forwarded-For, X-User-Id, ... are
 * never consulted) and does NOT limit requests that stopped earlier in the pipeline (an
 * unauthenticated or unauthorized request is never counted).
 */
export const limitStage: Stage = async (ctx, deps) => {
  const limiter = deps.limiter;
  if (limiter === undefined || !limiter.active) return undefined;
  const identity = ctx.identity;
  const route = ctx.route;
  if (identity === undefined || route === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'limit ran before authenticate/resolve' });
  const verdict = await checkUntilClose(ctx.res, limiter, {
    door: 'http',
    identity,
    route: route.id,
    method: ctx.method,
    call: { what: `${ctx.method} ${ctx.path}${ctx.search}`, digest: ctx.bodyDigest ?? '' },
  });
  if (!verdict.allow) return verdict.decision;
  if (verdict.detail !== undefined) ctx.detail = verdict.detail;
  return undefined;
};

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
