import type { Config } from '../config/schema.js';
import { deny } from '../pipeline/decision.js';
import type { Stage } from '../pipeline/pipeline.js';
import { auditStage, changesData } from '../audit/stage.js';
import { compileOutgoingHeaders, type OutgoingHeaderBuilder } from './identity/outgoing-headers.js';
import { routeAudience } from './identity/signed-assertion.js';
import { prepareIdentity } from './identity/prepare-identity.js';
import { EMPTY_BODY_DIGEST } from '../lib/digest.js';
import { joinUpstreamPath } from './upstream-path.js';

/** What forward needs per route, compiled once at start. */
export interface ForwardPlan {
  readonly headers: OutgoingHeaderBuilder;
  readonly audience: string;
}

export function compileForwardPlans(config: Config): ReadonlyMap<string, ForwardPlan> {
  const plans = new Map<string, ForwardPlan>();
  for (const route of config.routes) {
    plans.set(route.id, {
      headers: compileOutgoingHeaders(route, { publicUrl: config.server.publicUrl, serverStripHeaders: config.server.stripHeaders }),
      audience: routeAudience(route),
    });
  }
  return plans;
}

/**
 * forward: signs the assertion for exactly the target and body that will be sent, builds the
 * upstream headers (client credentials and identity headers removed, verified identity injected)
 * and streams the exchange. The audit record is written before the response is finished; if it
 * cannot be, a read follows `audit.onFailureForReads` and a write is cut short.
 */
export const forwardStage: Stage = async (ctx, deps) => {
  const route = ctx.route;
  const identity = ctx.identity;
  const plan = route === undefined ? undefined : deps.forwardPlans.get(route.id);
  if (route === undefined || identity === undefined || plan === undefined) {
    return deny(500, 'internal-error', 'internal error', { detail: 'forward ran before resolve' });
  }
  const target = joinUpstreamPath(route, ctx.path, ctx.search);
  if (target === undefined) return deny(400, 'bad-request', 'malformed request path', { detail: 'path not forwardable' });

  const outgoing = prepareIdentity(deps.signer, plan.headers, {
    identity,
    directory: ctx.user,
    requestId: ctx.requestId,
    audience: plan.audience,
    method: ctx.method,
    path: target,
    bodyDigest: ctx.bodyDigest ?? EMPTY_BODY_DIGEST,
    signAssertion: route.assertion.enabled,
    ttlSeconds: route.assertion.ttlSeconds,
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
    beforeEnd: async (done) => {
      ctx.upstreamStatus = done.upstreamStatus;
      ctx.bytesOut = done.bytesOut;
      if (await auditStage(ctx, deps)) return true;
      // No record: a read may still be answered when so configured (the alarm is raised);
      // anything else is cut short, so the client never sees it as a complete answer.
      return !changesData(ctx.method) && deps.config.audit.onFailureForReads === 'allow';
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
  deps.metrics.requests.inc({ door: ctx.door, route: route.id, decision: ctx.decision?.allow === true ? 'allow' : 'deny', reason: ctx.decision?.reason ?? '' });
  return undefined;
};
