import { deny } from '../pipeline/decision.js';
import type { Stage } from '../pipeline/pipeline.js';

/** authorize: deny by default; the policy's decision carries its reason and rule id. */
export const authorizeStage: Stage = (ctx, deps) => {
  const identity = ctx.identity;
  const route = ctx.route;
  if (identity === undefined || route === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'authorize ran before authenticate/resolve' });
  const decision = deps.policy.decide({
    identity,
    ...(ctx.user === undefined ? {} : { user: ctx.user }),
    directory: deps.directory.snapshot(),
    route: route.id,
    method: ctx.method,
    path: ctx.path,
    query: new URLSearchParams(ctx.search),
    body: ctx.json ?? null,
  });
  ctx.decision = decision;
  return decision.allow ? undefined : decision;
};
