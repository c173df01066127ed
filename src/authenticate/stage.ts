import type { Stage } from '../pipeline/stage.js';

/**
 * authenticate: verifies the bearer token against what the door requires of it (the audience of
 * the resource it serves, the issuers it accepts) and sets `ctx.identity`. The 401 challenge is
 * added by the door when it sends the denial.
 *
 * This does NOT check a session (a session id is not a credential: the door compares its owner
 * with the identity verified here), scopes or policy.
 */
export const authenticateStage: Stage = async (ctx, deps, door) => {
  const result = await deps.authenticator.authenticate(
    { headers: ctx.req.headers, rawHeaders: ctx.req.rawHeaders, url: ctx.req.url ?? '/' },
    door.credentials(ctx),
  );
  // A refused but verified token (revoked) still names its user in the audit record.
  ctx.identity = result.identity;
  if (!result.ok) return result.decision;
  return undefined;
};
