import { deny } from '../pipeline/decision.js';
import type { Stage } from '../pipeline/pipeline.js';
import { routeAllowsMethod, unsafePath } from './route-match.js';

/**
 * resolve: refuses paths a backend could read differently, checks the route exists and accepts
 * the method, then joins the directory entry to the identity.
 */
export const resolveStage: Stage = (ctx, deps) => {
  const unsafe = unsafePath(ctx.path);
  if (unsafe !== undefined) return deny(400, 'bad-request', 'malformed request path', { detail: `unsafe path: ${unsafe}` });
  const route = ctx.route;
  if (route === undefined) return deny(404, 'route-not-found', 'not found');
  if (!routeAllowsMethod(route, ctx.method)) {
    const allowHeader = route.methods?.join(', ') ?? '';
    return deny(405, 'method-not-allowed', 'method not allowed', { headers: { allow: allowHeader } });
  }
  const identity = ctx.identity;
  if (identity === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'resolve ran without an identity' });
  const user = deps.directory.snapshot().get(identity.id);
  if (user !== undefined) ctx.user = user;
  return undefined;
};
