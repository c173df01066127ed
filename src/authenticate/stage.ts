import type { Stage } from '../pipeline/pipeline.js';

/**
 * authenticate: verifies the bearer token and sets `ctx.identity`. The route is looked up first
 * (a pure table lookup) so that a 401 names the right protected resource and a token from an
 * issuer the route does not accept is refused here; resolve decides what else the route means.
 */
export const authenticateStage: Stage = async (ctx, deps) => {
  const route = deps.routes.match(ctx.path);
  ctx.route = route;
  const result = await deps.authenticator.authenticate(
    { headers: ctx.req.headers, rawHeaders: ctx.req.rawHeaders, url: ctx.req.url ?? '/' },
    route?.issuers === undefined ? undefined : { allowedIssuers: route.issuers },
  );
  // A refused but verified token (revoked) still names its user in the audit record.
  ctx.identity = result.identity;
  if (!result.ok) return result.decision;
  return undefined;
};
