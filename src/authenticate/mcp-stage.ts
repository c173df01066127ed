import type { McpStage } from '../doors/mcp/context.js';

/**
 * authenticate (MCP): every request, `initialize` and `server/discover` included, needs a token
 * whose audience is the endpoint's own public URL (`<publicUrl>/mcp`, RFC 8707: a token minted
 * for another resource, even on this gateway, is refused) from an issuer in `mcp.issuers`
 * (default: any configured issuer). The 401 challenge is added when the denial is sent.
 *
 * This does NOT check the session (a session id is not a credential: resolve compares its owner
 * with the identity verified here), scopes or policy.
 */
export const mcpAuthenticateStage: McpStage = async (ctx, deps) => {
  const result = await deps.authenticator.authenticate(
    { headers: ctx.req.headers, rawHeaders: ctx.req.rawHeaders, url: ctx.req.url ?? '/' },
    deps.mcp.issuers === undefined ? { audience: [deps.resourceUrl] } : { audience: [deps.resourceUrl], allowedIssuers: deps.mcp.issuers },
  );
  // A refused but verified token (revoked) still names its user in the audit record.
  ctx.identity = result.identity;
  if (!result.ok) return result.decision;
  return undefined;
};
