import type { ServerResponse } from 'node:http';
import { audienceFor, parseScopes, redirectAllowed, type DevIdpContext } from './context.js';
import { OAuthError, escapeHtml, redirect, sendHtml, singleValues } from './http-util.js';

/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * `GET /authorize`: the authorization endpoint (RFC 6749 §4.1, PKCE S256 required, RFC 8707
 * `resource`, RFC 9207 `iss` in the response).
 *
 * With `login_hint=<user id>` it approves at once and redirects with a one-time code (so scripts
 * and tests complete the flow without a browser); without it, it shows a page listing the demo
 * users as links that add the hint.
 *
 * Errors in `client_id` or `redirect_uri` are shown as a 400 page and never redirected (the URI
 * is not trusted yet); later errors are redirected to the client with `error` and `state`.
 *
 * DEV ONLY. This does NOT authenticate the person at the browser: anyone can pick any user.
 */
export function handleAuthorize(ctx: DevIdpContext, url: URL, res: ServerResponse): void {
  let p: Map<string, string>;
  try {
    p = singleValues(url.searchParams);
  } catch (err) {
    return errorPage(res, (err as OAuthError).message);
  }
  const clientId = p.get('client_id');
  const redirectUri = p.get('redirect_uri');
  if (clientId === undefined || clientId === '') return errorPage(res, 'client_id is required');
  if (redirectUri === undefined) return errorPage(res, 'redirect_uri is required');
  if (!redirectAllowed(ctx, clientId, redirectUri)) {
    return errorPage(res, 'redirect_uri is not registered for this client (unregistered clients may use loopback URIs only)');
  }
  const state = p.get('state');
  const back = (params: Record<string, string>) => {
    const target = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
    if (state !== undefined) target.searchParams.set('state', state);
    target.searchParams.set('iss', ctx.issuer);
    redirect(res, target.href);
  };
  const fail = (error: string, description: string) => back({ error, error_description: description });

  if (p.get('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be code');
  const challenge = p.get('code_challenge');
  if (challenge === undefined || !S256_CHALLENGE.test(challenge)) return fail('invalid_request', 'code_challenge (S256) is required');
  if (p.get('code_challenge_method') !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
  const resourceParam = p.get('resource');
  const resource = resourceParam === undefined ? undefined : audienceFor(ctx, resourceParam);
  if (resourceParam !== undefined && resource === undefined) return fail('invalid_target', 'resource is not an audience of this IdP');
  let scopes: string[];
  try {
    scopes = parseScopes(ctx, p.get('scope'));
  } catch (err) {
    return fail((err as OAuthError).error, (err as OAuthError).message);
  }

  const hint = p.get('login_hint');
  if (hint === undefined || hint === '') return choosePage(ctx, url, res);
  if (!ctx.users.has(hint)) return fail('access_denied', 'unknown user');
  const code = ctx.store.issueCode({
    clientId,
    redirectUri,
    codeChallenge: challenge,
    userId: hint,
    scopes,
    ...(resource === undefined ? {} : { resource }),
  });
  back({ code });
}

function errorPage(res: ServerResponse, message: string): void {
  sendHtml(res, 400, page('Authorization error', `<p>${escapeHtml(message)}</p>`));
}

function choosePage(ctx: DevIdpContext, url: URL, res: ServerResponse): void {
  const items = [...ctx.users.values()]
    .map((u) => {
      const link = new URL(url.href);
      link.searchParams.set('login_hint', u.id);
      const roles = (u.roles ?? []).join(', ');
      return `<li><a href="${escapeHtml(link.pathname + link.search)}">${escapeHtml(u.name)}</a> <small>${escapeHtml(u.email)}${roles === '' ? '' : ` &middot; ${escapeHtml(roles)}`}</small></li>`;
    })
    .join('\n');
  const client = ctx.store.client(url.searchParams.get('client_id') ?? '');
  const who = client?.name ?? url.searchParams.get('client_id') ?? '';
  sendHtml(res, 200, page('Sign in as', `<p>Client <b>${escapeHtml(who)}</b> asks to act on your behalf. Pick a demo user:</p>\n<ul>\n${items}\n</ul>`));
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} - behalf dev IdP (DEV ONLY)</title>
<style>body{font:16px system-ui,sans-serif;max-width:40em;margin:2em auto}.dev{background:#b00;color:#fff;padding:.5em 1em}li{margin:.5em 0}</style></head>
<body><p class="dev"><b>DEV ONLY</b>: this identity provider lets anyone sign in as any demo user. Never use it in production.</p>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}
