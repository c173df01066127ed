import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { BehalfError } from '../errors.js';
import { OAuthError } from './http-util.js';
import type { OAuthStore } from './oauth-store.js';
import type { DevSigningKey } from './signing-key.js';

/** A demo user the dev IdP can sign in as. */
export interface DevUser {
  id: string;
  name: string;
  email: string;
  roles?: string[];
  groups?: string[];
}

/** Options of one minted access token. */
export interface MintOptions {
  /** Default: the IdP's `defaultScopes`. */
  scopes?: string[];
  /** Default: the IdP's `tokenTtlSeconds`. */
  ttlSeconds?: number;
  /** Default: the IdP's configured audience. */
  audience?: string | string[];
  /** `client_id` and `azp`. Default `behalf-dev-cli`. */
  client?: string;
  /** Extra claims, merged last (they may override standard ones, to build odd tokens in tests). */
  claims?: Record<string, unknown>;
}

/** Everything the dev IdP's handlers share. */
export interface DevIdpContext {
  readonly issuer: string;
  readonly users: ReadonlyMap<string, DevUser>;
  /** Audiences a client may ask for with `resource`. */
  readonly audiences: readonly string[];
  readonly defaultAudience: string | string[];
  readonly defaultScopes: readonly string[];
  readonly tokenTtlSeconds: number;
  readonly store: OAuthStore;
  readonly keys: DevKeyRing;
  readonly now: () => number;
}

/**
 * The dev IdP's keys: `current` signs every token; `published` (current first) is what `/jwks`
 * serves. Rotation replaces `current` and adds it to `published`; retiring drops the others.
 */
export interface DevKeyRing {
  current: DevSigningKey;
  published: DevSigningKey[];
}

/** Default `client_id` of tokens minted without a client (scripts, `mint()`). */
export const DEV_CLI_CLIENT = 'behalf-dev-cli';

/**
 * Sign an RFC 9068 access token (`typ: at+jwt`, RS256) for a demo user.
 *
 * DEV ONLY: anyone who can reach the dev IdP can get a token for any demo user. This does NOT
 * authenticate anyone.
 *
 * @throws BehalfError `config-invalid` for an unknown user id.
 */
export async function mintAccessToken(ctx: DevIdpContext, userId: string, opts: MintOptions = {}): Promise<string> {
  const user = ctx.users.get(userId);
  if (user === undefined) throw new BehalfError('config-invalid', `dev IdP: unknown user "${userId.slice(0, 64)}"`);
  const now = Math.floor(ctx.now() / 1000);
  const ttl = opts.ttlSeconds ?? ctx.tokenTtlSeconds;
  const client = opts.client ?? DEV_CLI_CLIENT;
  const claims: Record<string, unknown> = {
    iss: ctx.issuer,
    sub: user.id,
    aud: opts.audience ?? ctx.defaultAudience,
    exp: now + ttl,
    iat: now,
    nbf: now,
    jti: randomUUID(),
    client_id: client,
    azp: client,
    scope: (opts.scopes ?? ctx.defaultScopes).join(' '),
    email: user.email,
    name: user.name,
    roles: user.roles ?? [],
    groups: user.groups ?? [],
    ...opts.claims,
  };
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: ctx.keys.current.kid }).sign(ctx.keys.current.privateKey);
}

/** RFC 8252 §7.3: loopback redirect URIs may use any port. */
export function isLoopbackRedirect(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
  } catch {
    return false;
  }
}

function withoutPort(uri: string): string {
  const u = new URL(uri);
  u.port = '';
  return u.href;
}

/**
 * May this client use this redirect URI? A registered client: one of its URIs exactly (loopback
 * URIs with any port). An unregistered `client_id`: loopback URIs only (dev convenience for
 * scripts and CLIs that skip registration).
 */
export function redirectAllowed(ctx: DevIdpContext, clientId: string, redirectUri: string): boolean {
  const client = ctx.store.client(clientId);
  if (client === undefined) return isLoopbackRedirect(redirectUri);
  return client.redirectUris.some(
    (r) => r === redirectUri || (isLoopbackRedirect(r) && isLoopbackRedirect(redirectUri) && withoutPort(r) === withoutPort(redirectUri)),
  );
}

/** The configured audience a RFC 8707 `resource` names (a trailing `/` is tolerated), if any. */
export function audienceFor(ctx: DevIdpContext, resource: string): string | undefined {
  const trim = (s: string) => s.replace(/\/+$/, '');
  return ctx.audiences.find((a) => a === resource || trim(a) === trim(resource));
}

/**
 * Scopes from a `scope` parameter; absent -> the default scopes. Any well-formed scope is
 * granted (dev only: it lets you test how the gateway treats scopes it does not expect).
 */
export function parseScopes(ctx: DevIdpContext, scope: string | undefined): string[] {
  if (scope === undefined) return [...ctx.defaultScopes];
  const scopes = scope.split(' ').filter((s) => s !== '');
  // RFC 6749 §3.3 scope-token.
  if (scopes.some((s) => !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)) || scopes.length > 50) {
    throw new OAuthError('invalid_scope', 'scope is malformed');
  }
  return scopes;
}
