import { deny, type Deny } from '../pipeline/decision.js';
import type { Stage } from '../pipeline/stage.js';
import { entryOf } from './directory.js';
import { resolveTarget } from './targets.js';

/**
 * resolve: the door reads what is asked into a target (`describe`); then the name is looked up
 * (the route and its methods, the catalog tool, the upstream serving a resource, prompt or
 * template; targets.ts), the door checks what needs the resolved target, and the caller's
 * directory entry is joined to the identity. One directory snapshot serves every decision of the
 * request.
 *
 * This does NOT validate arguments (screen-in does) nor decide anything (authorize does).
 */
export const resolveStage: Stage = async (ctx, deps, door) => {
  const identity = ctx.identity;
  if (identity === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'resolve ran without an identity' });
  const described: Deny | undefined = await door.describe(ctx);
  if (described !== undefined) return described;
  const target = ctx.target;
  if (target === undefined) return deny(404, 'route-not-found', 'not found');
  const unresolved = resolveTarget(ctx, target, deps);
  if (unresolved !== undefined) return unresolved;
  const wire = door.resolved(ctx);
  if (wire !== undefined) return wire;
  const snapshot = deps.directory.snapshot();
  ctx.directory = snapshot;
  const user = entryOf(snapshot, identity);
  if (user !== undefined) ctx.user = user;
  return undefined;
};
