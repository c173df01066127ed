import type { Stage } from '../pipeline/pipeline.js';

/**
 * authenticate: verifies the bearer token and sets `ctx.identity`. The route is looked up first
 * only so that a 401 names the right protected resource; resolve decides what the route means.
 */
export const authenticateStage: Stage = async (ctx, deps) => {
  ctx.route = deps.routes.match(ctx.path);
  const result = await deps.authenticator.authenticate({ headers: ctx.req.headers, rawHeaders: ctx.req.rawHeaders, url: ctx.req.url ?? '/' });
  if (!result.ok) return result.decision;
  ctx.identity = result.identity;
  return undefined;
};
