import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleAuthorize } from './authorize.js';
import type { DevIdpContext } from './context.js';
import { OAuthError, sendJson, sendOAuthError, setCors } from './http-util.js';
import { handleRegister } from './register.js';
import { DEV_USER_GRANT, handleToken } from './token-endpoint.js';

/**
 * The dev IdP's metadata, served both as OpenID Connect discovery and as RFC 8414 authorization
 * server metadata. `dev_only: true` marks it so that nobody mistakes it for a real IdP.
 */
export function metadata(ctx: DevIdpContext): Record<string, unknown> {
  return {
    issuer: ctx.issuer,
    authorization_endpoint: `${ctx.issuer}/authorize`,
    token_endpoint: `${ctx.issuer}/token`,
    registration_endpoint: `${ctx.issuer}/register`,
    jwks_uri: `${ctx.issuer}/jwks`,
    scopes_supported: [...ctx.defaultScopes],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', DEV_USER_GRANT],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    authorization_response_iss_parameter_supported: true,
    dev_only: true,
  };
}

/**
 * Route one request. Paths are relative to the issuer's own path, so an issuer such as
 * `http://127.0.0.1:9000/dev` serves `/dev/jwks`; RFC 8414's form
 * `/.well-known/oauth-authorization-server/dev` is served too.
 *
 * Every failure becomes an OAuth error response (400 JSON) or a 500 without detail; a request
 * can never crash the process.
 */
export async function route(ctx: DevIdpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  setCors(res);
  try {
    const url = new URL(req.url ?? '/', ctx.issuer);
    const prefix = new URL(ctx.issuer).pathname.replace(/\/+$/, '');
    let path = url.pathname;
    if (path === `/.well-known/oauth-authorization-server${prefix}`) path = '/.well-known/oauth-authorization-server';
    else if (prefix !== '' && path.startsWith(`${prefix}/`)) path = path.slice(prefix.length);
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const get = method === 'GET' || method === 'HEAD';
    switch (path) {
      case '/.well-known/openid-configuration':
      case '/.well-known/oauth-authorization-server':
        if (!get) break;
        return sendJson(res, 200, metadata(ctx));
      case '/jwks':
        if (!get) break;
        return sendJson(res, 200, { keys: ctx.keys.published.map((k) => k.publicJwk) });
      case '/authorize':
        if (!get) break;
        return handleAuthorize(ctx, url, res);
      case '/token':
        if (method !== 'POST') break;
        return await handleToken(ctx, req, res);
      case '/register':
        if (method !== 'POST') break;
        return await handleRegister(ctx, req, res);
      default:
        return sendJson(res, 404, { error: 'not_found' });
    }
    sendJson(res, 405, { error: 'method_not_allowed' });
  } catch (err) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof OAuthError) return sendOAuthError(res, err);
    sendJson(res, 500, { error: 'server_error' });
  }
}
