import { recordBeforeAnswer } from '../audit/stage.js';
import type { RequestContext } from '../pipeline/context.js';
import { deny, type Deny } from '../pipeline/decision.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import type { RouteConfig } from '../config/schema.js';
import { joinUpstreamPath } from './upstream-path.js';

/**
 * Forwards a route request: signs the assertion for exactly the target and body that will be sent, builds the
 * upstream headers (client credentials and identity headers removed, verified identity injected)
 * and streams the exchange. The audit record is written before the response is finished; if it
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

  const assertion = route.assertion.enabled
    ? deps.signer.signSync({
        identity,
        audience: plan.audience,
        method: ctx.method,
        path: target,
        ...(ctx.bodyDigest === undefined ? {} : { bodyDigest: ctx.bodyDigest }),
        ttlSeconds: route.assertion.ttlSeconds,
      })
    : undefined;
  const outgoing = plan.headers.build({
    incoming: ctx.req.headers,
    identity,
    ...(ctx.user === undefined ? {} : { directory: ctx.user }),
    requestId: ctx.requestId,
    ...(assertion === undefined ? {} : { assertion }),
    ...(ctx.body === undefined ? {} : { bodyLength: ctx.body.length }),
    ...(ctx.req.socket.remoteAddress === undefined ? {} : { clientAddress: ctx.req.socket.remoteAddress }),
  });
  if (outgoing.stripped.length > 0) ctx.detail = `stripped client headers: ${outgoing.stripped.join(', ')}`;

  const result = await deps.forwarder.forward({
    req: ctx.req,
    res: ctx.res,
    route,
    upstreamPath: target,
    headers: outgoing.headers,
    body: ctx.body,
    beforeEnd: async (done) => {
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
