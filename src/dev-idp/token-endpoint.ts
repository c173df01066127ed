import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEV_CLI_CLIENT, audienceFor, mintAccessToken, parseScopes, type DevIdpContext } from './context.js';
import { OAuthError, readForm, sendJson } from './http-util.js';
import type { Grant } from './oauth-store.js';

/** The dev-only grant that mints a token for a named demo user, for scripts. */
export const DEV_USER_GRANT = 'urn:behalf:dev:user';

/** RFC 7636 §4.1 code_verifier. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * `POST /token` (RFC 6749 §3.2) for public clients:
 * - `authorization_code` with PKCE S256: the code is single-use and bound to `client_id`,
 *   `redirect_uri` and `code_challenge`; a `resource` here must name the same audience as at
 *   /authorize (RFC 8707);
 * - `refresh_token`: rotated on every use, bound to `client_id`;
 * - `urn:behalf:dev:user` with `user=<id>` (and optional `scope`, `resource`, `client_id`): a token
 *   for any demo user without a browser. DEV ONLY.
 *
 * Errors are RFC 6749 §5.2 JSON with status 400.
 *
 * This does NOT authenticate clients (there are no client secrets) and does NOT issue ID tokens.
 */
export async function handleToken(ctx: DevIdpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const p = await readForm(req);
  const grantType = p.get('grant_type');
  let grant: Grant;
  let refreshable = true;
  if (grantType === 'authorization_code') grant = codeGrant(ctx, p);
  else if (grantType === 'refresh_token') grant = refreshGrant(ctx, p);
  else if (grantType === DEV_USER_GRANT) {
    grant = devUserGrant(ctx, p);
    refreshable = false;
  } else throw new OAuthError(grantType === undefined ? 'invalid_request' : 'unsupported_grant_type', 'grant_type is missing or not supported');

  const audience = grant.resource ?? ctx.defaultAudience;
  const accessToken = await mintAccessToken(ctx, grant.userId, { scopes: [...grant.scopes], audience, client: grant.clientId });
  const body: Record<string, unknown> = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ctx.tokenTtlSeconds,
    scope: grant.scopes.join(' '),
  };
  if (refreshable) {
    const { clientId, userId, scopes, resource } = grant;
    body.refresh_token = ctx.store.issueRefreshToken({ clientId, userId, scopes, ...(resource === undefined ? {} : { resource }) });
  }
  sendJson(res, 200, body);
}

function codeGrant(ctx: DevIdpContext, p: Map<string, string>): Grant {
  const code = required(p, 'code');
  const clientId = required(p, 'client_id');
  const redirectUri = required(p, 'redirect_uri');
  const verifier = required(p, 'code_verifier');
  // Taken (deleted) before any other check: a code is spent by its first use, right or wrong.
  const g = ctx.store.takeCode(code);
  if (g === undefined) throw new OAuthError('invalid_grant', 'code is invalid, expired or already used');
  if (g.clientId !== clientId) throw new OAuthError('invalid_grant', 'code was issued to another client');
  if (g.redirectUri !== redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  if (!VERIFIER.test(verifier)) throw new OAuthError('invalid_grant', 'code_verifier is malformed');
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
  const expected = Buffer.from(g.codeChallenge);
  if (computed.length !== expected.length || !timingSafeEqual(computed, expected)) {
    throw new OAuthError('invalid_grant', 'code_verifier does not match code_challenge');
  }
  return withResource(g, checkResource(ctx, p, g.resource));
}

function refreshGrant(ctx: DevIdpContext, p: Map<string, string>): Grant {
  const token = required(p, 'refresh_token');
  const g = ctx.store.takeRefreshToken(token);
  if (g === undefined) throw new OAuthError('invalid_grant', 'refresh_token is invalid, expired or already used');
  const clientId = p.get('client_id');
  if (clientId !== undefined && clientId !== g.clientId) throw new OAuthError('invalid_grant', 'refresh_token was issued to another client');
  return withResource(g, checkResource(ctx, p, g.resource));
}

function withResource<G extends Grant>(g: G, resource: string | undefined): G {
  return resource === undefined ? g : { ...g, resource };
}

function devUserGrant(ctx: DevIdpContext, p: Map<string, string>): Grant {
  const userId = required(p, 'user');
  if (!ctx.users.has(userId)) throw new OAuthError('invalid_grant', 'unknown user');
  const resourceParam = p.get('resource');
  const resource = resourceParam === undefined ? undefined : audienceFor(ctx, resourceParam);
  if (resourceParam !== undefined && resource === undefined) throw new OAuthError('invalid_target', 'resource is not an audience of this IdP');
  return {
    clientId: p.get('client_id') ?? DEV_CLI_CLIENT,
    userId,
    scopes: parseScopes(ctx, p.get('scope')),
    ...(resource === undefined ? {} : { resource }),
  };
}

/**
 * The audience of the token: the one granted at /authorize, or the token request's `resource`
 * when /authorize named none. A `resource` here may not change an audience already granted.
 */
function checkResource(ctx: DevIdpContext, p: Map<string, string>, granted: string | undefined): string | undefined {
  const resourceParam = p.get('resource');
  if (resourceParam === undefined) return granted;
  const resource = audienceFor(ctx, resourceParam);
  if (resource === undefined || (granted !== undefined && resource !== granted)) {
    throw new OAuthError('invalid_target', 'resource is not the audience granted');
  }
  return resource;
}

function required(p: Map<string, string>, name: string): string {
  const v = p.get(name);
  if (v === undefined || v === '') throw new OAuthError('invalid_request', `${name} is required`);
  return v;
}
