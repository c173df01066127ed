import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DevIdpContext } from './context.js';
import { OAuthError, readJsonObject, sendJson } from './http-util.js';

const MAX_REDIRECT_URIS = 10;
const MAX_URI_CHARS = 2_000;

/**
 * `POST /register`: RFC 7591 dynamic client registration for public clients (what MCP clients
 * do before their first authorization). Accepts `redirect_uris` (absolute URLs without a
 * fragment), optional `client_name`, and `token_endpoint_auth_method` `none` only. Returns 201
 * with the new `client_id`.
 *
 * DEV ONLY. This does NOT require an initial access token, does NOT issue client secrets and
 * keeps at most 1 000 clients (the oldest is forgotten first).
 */
export async function handleRegister(ctx: DevIdpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const meta = await readJsonObject(req, 'invalid_client_metadata');
  const uris = meta.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0 || uris.length > MAX_REDIRECT_URIS) {
    throw new OAuthError('invalid_redirect_uri', `redirect_uris must be an array of 1-${MAX_REDIRECT_URIS} URLs`);
  }
  for (const uri of uris) {
    if (typeof uri !== 'string' || uri.length > MAX_URI_CHARS || !isAbsoluteWithoutFragment(uri)) {
      throw new OAuthError('invalid_redirect_uri', 'each redirect URI must be an absolute URL without a fragment');
    }
  }
  const method = meta.token_endpoint_auth_method;
  if (method !== undefined && method !== 'none') {
    throw new OAuthError('invalid_client_metadata', 'only public clients (token_endpoint_auth_method "none") are supported');
  }
  const grantTypes = meta.grant_types;
  if (grantTypes !== undefined && (!Array.isArray(grantTypes) || grantTypes.some((g) => g !== 'authorization_code' && g !== 'refresh_token'))) {
    throw new OAuthError('invalid_client_metadata', 'grant_types may hold only authorization_code and refresh_token');
  }
  const name = typeof meta.client_name === 'string' ? meta.client_name.slice(0, 200) : undefined;
  const client = ctx.store.registerClient(uris as string[], name);
  sendJson(res, 201, {
    client_id: client.clientId,
    client_id_issued_at: client.issuedAt,
    redirect_uris: client.redirectUris,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...(name === undefined ? {} : { client_name: name }),
  });
}

function isAbsoluteWithoutFragment(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.hash === '' && !uri.includes('#') && u.protocol !== 'javascript:' && u.protocol !== 'data:';
  } catch {
    return false;
  }
}
