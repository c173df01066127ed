import type { RequestContext } from '../pipeline/context.js';
import type { Deny } from '../pipeline/decision.js';
import type { Stage } from '../pipeline/stage.js';
import type { AuthResult } from './authenticator.js';

/**
 * authenticate: verifies the bearer token against what the door requires of it (the audience of
 * the resource it serves, the issuers it accepts) and sets `ctx.identity`. The 401 challenge is
 * added by the door when it sends the denial.
 *
 * This does NOT check a session (a session id is not a credential: the door compares its owner
 * with the identity verified here), scopes or policy.
 */
export const authenticateStage: Stage = (ctx, deps, door) => {
  const result = deps.authenticator.authenticate(ctx.req, door.credentials(ctx));
  // A token from the cache is answered synchronously: no promise, no microtask turn.
  return result instanceof Promise ? result.then((r) => settle(ctx, r)) : settle(ctx, result);
};

function settle(ctx: RequestContext, result: AuthResult): Deny | undefined {
  // A refused but verified token (revoked) still names its user in the audit record.
  ctx.identity = result.identity;
  return result.ok ? undefined : result.decision;
}
