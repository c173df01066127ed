/**
 * A development identity provider — DEV ONLY. It signs real RS256 access tokens for a fixed list
 * of demo users and lets anyone sign in as any of them, so the gateway can be tried end to end
 * (MCP clients included: discovery, dynamic registration, PKCE) without a real IdP. Never expose
 * it beyond loopback and never trust its tokens in production.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BehalfError } from '../errors.js';
import { mintAccessToken, type DevIdpContext, type DevUser, type MintOptions } from './context.js';
import { OAuthStore } from './oauth-store.js';
import { route } from './router.js';
import { createDevKey, loadOrCreateDevKey } from './signing-key.js';

export type { DevUser, MintOptions } from './context.js';
export { DEV_USER_GRANT } from './token-endpoint.js';

/** How to start the dev IdP. */
export interface DevIdpOptions {
  /** Listen address. Default `127.0.0.1` (keep it on loopback). */
  host?: string;
  /** Listen port; 0 (the default) picks a free one. */
  port?: number;
  /** Issuer URL, without a trailing slash. Default `http://<host>:<port>` (the listen URL). */
  issuer?: string;
  /** Demo users; ids must be unique. */
  users: DevUser[];
  /** Audience(s) tokens may carry; a client's RFC 8707 `resource` must be one of them. */
  audience: string | string[];
  /** Scopes granted when a client asks for none. Default none. */
  defaultScopes?: string[];
  /** Access token lifetime, in seconds. Default 3 600 (1 h). */
  tokenTtlSeconds?: number;
  /** Where to keep the RSA key across restarts (a private JWK, mode 0600); default: a new key each start. */
  keyFile?: string;
  /** Clock, ms since epoch. Default `Date.now`. */
  now?: () => number;
  /** Where the start-up line goes. Default: standard error. */
  log?: (line: string) => void;
}

/** A running dev IdP. */
export interface DevIdp {
  readonly issuer: string;
  /** The URL it listens on (`http://host:port`). */
  readonly url: string;
  readonly jwksUri: string;
  /** Sign an access token for a demo user without any HTTP round trip. */
  mint(userId: string, opts?: MintOptions): Promise<string>;
  /**
   * Rotate the signing key as a real IdP does: a new RSA key (a new `kid`) is published in
   * `/jwks` and signs every token from the moment this resolves; the previous keys stay published
   * (tokens they signed keep verifying) until `retireOldKeys()`. With `keyFile`, the new key
   * replaces the saved one (after a restart only the new key is published). Returns the new `kid`.
   */
  rotateKeys(): Promise<string>;
  /** Stop publishing every key but the current one: tokens signed by retired keys stop verifying. */
  retireOldKeys(): void;
  close(): Promise<void>;
}

/**
 * Start the dev IdP on loopback. DEV ONLY: it logs a warning line saying so and its discovery
 * document carries `dev_only: true`.
 *
 * This does NOT authenticate anybody, does NOT issue ID tokens, and keeps clients, codes and
 * refresh tokens in memory only.
 *
 * @throws BehalfError `config-invalid` for duplicate user ids or an empty audience list.
 */
export async function startDevIdp(opts: DevIdpOptions): Promise<DevIdp> {
  const users = new Map<string, DevUser>();
  for (const u of opts.users) {
    if (users.has(u.id)) throw new BehalfError('config-invalid', `dev IdP: duplicate user id "${u.id}"`);
    users.set(u.id, u);
  }
  const audiences = Array.isArray(opts.audience) ? [...opts.audience] : [opts.audience];
  if (audiences.length === 0 || audiences.some((a) => a === '')) throw new BehalfError('config-invalid', 'dev IdP: audience is required');
  const first = await loadOrCreateDevKey(opts.keyFile);
  const host = opts.host ?? '127.0.0.1';
  const now = opts.now ?? Date.now;

  let ctx: DevIdpContext | undefined;
  const server = createServer((req, res) => {
    if (ctx === undefined) {
      res.writeHead(503).end();
      return;
    }
    void route(ctx, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const issuer = (opts.issuer ?? url).replace(/\/+$/, '');
  ctx = {
    issuer,
    users,
    audiences,
    defaultAudience: Array.isArray(opts.audience) && opts.audience.length > 1 ? audiences : audiences[0]!,
    defaultScopes: [...(opts.defaultScopes ?? [])],
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 3_600,
    store: new OAuthStore(now),
    keys: { current: first, published: [first] },
    now,
  };
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  log(`behalf dev IdP (DEV ONLY: anyone can sign in as any demo user; never use in production) listening on ${url}, issuer ${issuer}`);

  const context = ctx;
  return {
    issuer,
    url,
    jwksUri: `${issuer}/jwks`,
    mint: (userId, mintOpts) => mintAccessToken(context, userId, mintOpts),
    async rotateKeys() {
      const next = await createDevKey(opts.keyFile);
      // Published before it signs anything, so no token ever names a kid the JWKS lacks.
      context.keys.published = [next, ...context.keys.published];
      context.keys.current = next;
      return next.kid;
    },
    retireOldKeys() {
      context.keys.published = [context.keys.current];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
