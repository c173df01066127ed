import { recordBeforeAnswer } from '../audit/stage.js';
import type { RequestContext } from '../pipeline/context.js';
import { deny, type Deny } from '../pipeline/decision.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import type { RouteConfig } from '../config/schema.js';
import { EMPTY_BODY_DIGEST } from '../lib/digest.js';
import { prepareIdentity } from './identity/prepare-identity.js';
import { joinUpstreamPath } from './upstream-path.js';

/**
 * Forwards a route request: the identity for exactly the target and body that will be sent
 * (identity/prepare-identity.ts: client credentials and identity headers removed, verified
 * identity and the signed assertion injected), then the exchange, streamed. The audit record is written before the response is finished; if it
 * cannot be, a read follows `audit.onFailureForReads` and a write is cut short.
 */
export async function forwardRoute(ctx: RequestContext, deps: PipelineDeps, route: RouteConfig): Promise<Deny | undefined> {
  const identity = ctx.identity;
  const plan = deps.forwardPlans.get(route.id);
  if (identity === undefined || plan === undefined) {
    return deny(500, 'internal-error', 'internal error', { detail: 'forward ran before resolve' });
  }
  const target = joinUpstreamPath(route, ctx.path, ctx.search);
  if (target === undefined) return deny(400, 'bad-request', 'malformed request path', { detail: 'path not forwardable' });

  const outgoing = await prepareIdentity(deps.signer, plan.headers, {
    identity,
    directory: ctx.user,
    requestId: ctx.requestId,
    trace: ctx.trace,
    audience: plan.audience,
    method: ctx.method,
    path: target,
    bodyDigest: ctx.bodyDigest ?? EMPTY_BODY_DIGEST,
    signAssertion: route.assertion.enabled,
    ttlSeconds: route.assertion.ttlSeconds,
    form: route.assertion.form,
    incoming: ctx.req.headers,
    bodyLength: ctx.body?.length,
    clientAddress: ctx.req.socket.remoteAddress,
  });
  if (outgoing.stripped.length > 0) ctx.detail = `stripped client headers: ${outgoing.stripped.join(', ')}`;

  const result = await deps.forwarder.forward({
    req: ctx.req,
    res: ctx.res,
    route,
    upstreamPath: target,
    headers: outgoing.headers,
    body: ctx.body,
    beforeEnd: (done) => {
      ctx.upstreamStatus = done.upstreamStatus;
      ctx.bytesOut = done.bytesOut;
      // No record: a read may still be answered when so configured (the alarm is raised);
      // anything else is cut short, so the client never sees it as a complete answer.
      return recordBeforeAnswer(ctx, deps);
    },
  });
  if (result.upstreamStatus !== undefined) ctx.upstreamStatus = result.upstreamStatus;
  ctx.bytesOut = result.bytesOut;
  if (result.decision !== undefined) {
    deps.metrics.upstreamFailures.inc({ route: route.id, reason: result.decision.reason });
    return result.decision;
  }
  if (!result.ok) {
    if (result.aborted === 'upstream') {
      deps.metrics.upstreamFailures.inc({ route: route.id, reason: result.reason ?? 'upstream-error' });
      ctx.decision = deny(502, result.reason ?? 'upstream-error', 'bad gateway', { detail: result.detail ?? 'response cut short' });
    } else if (result.aborted === 'client') {
      ctx.detail = 'client closed the connection';
    }
  }
  ctx.outcome = ANSWERED;
  return undefined;
}

const ANSWERED = { kind: 'answered' } as const;
