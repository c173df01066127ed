import { decodeJwt } from 'jose';
import type { IssuerConfig } from '../config/schema.js';
import { DEFAULTS } from '../config/defaults.js';
import { BehalfError } from '../errors.js';
import { deny, type Deny } from '../pipeline/decision.js';
import { extractBearerToken, type AuthRequest } from './extract-token.js';
import { DEFAULT_FETCH_MAX_BYTES, DEFAULT_FETCH_TIMEOUT_MS } from './fetch-json.js';
import type { Identity } from './identity.js';
import { IssuerKeys } from './issuer-keys.js';
import { mapClaims } from './map-claims.js';
import { createUserNames } from './user-names.js';
import type { RevocationList } from './revocation-list.js';
import { TokenCache, tokenKey } from './token-cache.js';
import { INVALID_TOKEN_MESSAGE, isForbiddenAlgorithm, verifyToken } from './verify-token.js';
import { printable } from '../lib/printable.js';

/** How the authenticator is built. Durations in milliseconds. */
export interface AuthenticatorOptions {
  /** Validated, defaulted issuer entries (`config.issuers`). */
  issuers: readonly IssuerConfig[];
  /** Bound on the bearer token, in bytes (`server.maxTokenBytes`); checked before any decoding. */
  maxTokenBytes: number;
  /** Used for discovery and JWKS requests. Default: `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Clock, ms since epoch. Default: `Date.now`. */
  now?: () => number;
  /** Bound on the verified-token cache. Default `DEFAULTS.tokenCacheEntries` (10 000); 0 disables it. */
  cacheEntries?: number;
  /** Age after which a JWK set is refetched in the background. Default `DEFAULTS.jwksCacheMaxAgeMs` (10 min). */
  jwksMaxAgeMs?: number;
  /**
   * How the JWKS refetch waits (at most `issuers[].jwksRefetch.minIntervalMs`) for its turn; tests
   * pass one that moves their clock. Default: a timer.
   */
  sleep?: (ms: number) => Promise<void>;
  /** Bound on each discovery/JWKS request. Default 5 000 (5 s). */
  fetchTimeoutMs?: number;
  /** Checked on every request, cached token or not. Default: nothing is revoked. */
  revocations?: Pick<RevocationList, 'check'>;
  /**
   * The id of the issuer whose users keep plain ids (`directory.issuer`); other issuers' users
   * are named `<issuer id>:<id>` (user-names.ts). Default: the only issuer, if there is one.
   */
  homeIssuer?: string;
  /** Called with the issuer's id each time a token's JWKS refetch is refused by `jwksRefetch.perMinute`. */
  onRefetchLimited?: (issuerId: string) => void;
}

export type { AuthRequest } from './extract-token.js';

/**
 * The outcome of `authenticate`: an identity, or a denial the caller turns into a response. A
 * denial for a token that verified (revoked, or revocations unavailable) also carries its
 * identity, for the audit record only: the request must not go on.
 */
export type AuthResult = { ok: true; identity: Identity } | { ok: false; decision: Deny; identity?: Identity };

/**
 * What a route or door asks of a token beyond the issuer's configuration: `allowedIssuers`,
 * issuer ids accepted (undefined = all configured); `audience`, accepted audiences replacing the
 * issuer's configured list.
 */
export interface AuthConstraints {
  readonly allowedIssuers?: readonly string[] | undefined;
  readonly audience?: readonly string[] | undefined;
}

/** The authenticate stage. */
export interface Authenticator {
  /**
   * Verify the request's bearer token and map it to an Identity. Answers synchronously when no
   * verification is needed (no usable token, or a token from the cache), else a promise.
   * @param opts.allowedIssuers issuer ids accepted on this route (undefined = all configured).
   * @param opts.audience accepted audiences, replacing the issuer's configured list (the MCP door
   *   passes its public `/mcp` URL, RFC 8707).
   */
  authenticate(req: AuthRequest, opts?: AuthConstraints): AuthResult | Promise<AuthResult>;
  /** Load discovery and JWKS for every issuer, and wait for it (at start). Never throws. */
  warm(): Promise<{ issuerId: string; ok: boolean; error?: string }[]>;
  /**
   * Each issuer's keys as held now, without waiting for any IdP (for `/readyz`): ok while keys are
   * held. An issuer with no keys, or keys older than `jwksMaxAgeMs`, gets a background fetch when
   * `issuers[].jwksRefetch.minIntervalMs` allows.
   */
  keyStatus(): { issuerId: string; ok: boolean; detail?: string }[];
}

/**
 * Create the authenticate stage: bearer token extraction, issuer routing by the unverified `iss`
 * (exact match; the token is then verified against that issuer only), JWT verification, claim
 * mapping and a bounded cache of verified tokens keyed by SHA-256.
 *
 * A verified token (fresh or from the cache) is then checked against `opts.revocations`: a
 * revoked token, user or client is a 401 `token-revoked`.
 *
 * Denials: 401 with a reason from REASONS, except `idp-unavailable` (the issuer's discovery or
 * JWKS cannot be fetched and no keys are cached, or the token needs a refetch, for an unknown
 * `kid` or a bad signature under a known one, that fails or that the flood bound
 * `issuers[].jwksRefetch.perMinute` refuses while its `kid` was never seen absent) and `revocation-unavailable` (revocations cannot
 * be synced and `revocation.onStoreError` is `deny`), which are 503: an outage is not the
 * client's fault and must not make clients throw their tokens away. No denial carries headers;
 * the caller adds `WWW-Authenticate` (`bearerChallenge` + `challengeErrorFor`).
 *
 * This does NOT check scopes or policy (later stages do), does NOT support opaque
 * tokens (introspection) or DPoP-bound tokens, and never logs: nothing here writes the token
 * anywhere; the cache holds only its hash.
 *
 * @throws BehalfError `config-invalid` if an issuer is left with no acceptable algorithm or two
 *   entries share an id.
 */
export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const now = opts.now ?? Date.now;
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  const byIss = new Map<string, IssuerConfig[]>();
  const byId = new Map<string, IssuerConfig>();
  const keys = new Map<string, IssuerKeys>();
  for (const issuer of opts.issuers) {
    if (byId.has(issuer.id)) throw new BehalfError('config-invalid', `issuers: duplicate id "${issuer.id}"`);
    if (issuer.algorithms.every(isForbiddenAlgorithm)) {
      throw new BehalfError('config-invalid', `issuers.${issuer.id}.algorithms: none is acceptable (none and HS* are never accepted)`);
    }
    byId.set(issuer.id, issuer);
    byIss.set(issuer.issuer, [...(byIss.get(issuer.issuer) ?? []), issuer]);
    keys.set(
      issuer.id,
      new IssuerKeys({
        issuer: issuer.issuer,
        ...(issuer.jwksUri === undefined ? {} : { jwksUri: issuer.jwksUri }),
        ...(issuer.discoveryUrl === undefined ? {} : { discoveryUrl: issuer.discoveryUrl }),
        fetch: fetchImpl,
        now,
        timeoutMs: opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
        maxBytes: DEFAULT_FETCH_MAX_BYTES,
        minIntervalMs: issuer.jwksRefetch.minIntervalMs,
        perMinute: issuer.jwksRefetch.perMinute,
        maxAgeMs: opts.jwksMaxAgeMs ?? DEFAULTS.jwksCacheMaxAgeMs,
        absentKids: DEFAULTS.jwksAbsentKidsRemembered,
        ...(opts.sleep === undefined ? {} : { sleep: opts.sleep }),
        ...(opts.onRefetchLimited === undefined ? {} : { onLimited: () => opts.onRefetchLimited!(issuer.id) }),
      }),
    );
  }
  const names = createUserNames(opts.issuers, opts.homeIssuer);
  const cache = new TokenCache(opts.cacheEntries ?? DEFAULTS.tokenCacheEntries, now);

  const acceptable = (identity: Identity, audiences: readonly string[], allowedIssuers?: readonly string[], audience?: readonly string[]) => {
    if (allowedIssuers !== undefined && !allowedIssuers.includes(identity.issuerId)) return false;
    const expected = audience ?? byId.get(identity.issuerId)?.audience ?? [];
    return audiences.some((a) => expected.includes(a));
  };

  function authenticate(req: AuthRequest, ropts: AuthConstraints = NO_CONSTRAINTS): AuthResult | Promise<AuthResult> {
    const extracted = extractBearerToken(req, opts.maxTokenBytes);
    if (!extracted.ok) return extracted;
    const token = extracted.token;
    const key = tokenKey(token);
    const hit = cache.get(key);
    // A hit that fails this route's constraints is verified in full below, which gives the
    // precise reason (and handles two issuer entries sharing one `iss`).
    if (hit !== undefined && acceptable(hit.identity, hit.audiences, ropts.allowedIssuers, ropts.audience)) {
      return notRevoked(hit.identity);
    }
    return verify(token, key, ropts);
  }

  async function verify(token: string, key: string, ropts: AuthConstraints): Promise<AuthResult> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return fail('token-invalid', 'not a compact JWS with a JSON claims set');
    }
    if (typeof iss !== 'string') return fail('token-invalid', 'iss claim missing');
    const candidates = byIss.get(iss);
    if (candidates === undefined) return fail('issuer-unknown', `issuer not configured: ${printable(iss, 120)}`);
    const allowed = ropts.allowedIssuers === undefined ? candidates : candidates.filter((c) => ropts.allowedIssuers!.includes(c.id));
    if (allowed.length === 0) return fail('issuer-not-allowed', `issuer ${candidates.map((c) => c.id).join(',')} not allowed on this route`);

    let firstDenial: Deny | undefined;
    for (const issuer of allowed) {
      const result = await verifyToken(token, issuer, keys.get(issuer.id)!, ropts.audience ?? issuer.audience, now());
      if (!result.ok) {
        firstDenial ??= result.decision;
        continue;
      }
      const prefix = names.prefixOf(issuer);
      const identity = mapClaims(result.payload, issuer, prefix);
      if (identity === undefined) {
        firstDenial ??= deny(401, 'token-invalid', INVALID_TOKEN_MESSAGE, { detail: 'no user id claim' });
        continue;
      }
      if (prefix === '' && names.collides(identity.id)) {
        // `partner:alice` from the home IdP would be the partner IdP's alice: refused, not guessed.
        firstDenial ??= deny(401, 'token-invalid', INVALID_TOKEN_MESSAGE, { detail: "user id starts with another issuer's id prefix" });
        continue;
      }
      const frozen = freeze(identity);
      const aud = result.payload.aud;
      cache.set(key, { identity: frozen, audiences: typeof aud === 'string' ? [aud] : (aud ?? []), expiresAtMs: frozen.expiresAt * 1000 });
      return notRevoked(frozen);
    }
    return { ok: false, decision: firstDenial! };
  }

  function notRevoked(identity: Identity): AuthResult {
    const verdict = opts.revocations?.check(identity) ?? 'ok';
    if (verdict === 'ok') return { ok: true, identity };
    return { ok: false, decision: verdict === 'revoked' ? REVOKED : REVOCATIONS_UNAVAILABLE, identity };
  }

  async function warm() {
    return Promise.all(
      [...keys].map(async ([issuerId, k]) => {
        try {
          await k.warm();
          return { issuerId, ok: true };
        } catch (err) {
          return { issuerId, ok: false, error: err instanceof Error ? err.message : 'unknown error' };
        }
      }),
    );
  }

  function keyStatus() {
    return [...keys].map(([issuerId, k]) => ({ issuerId, ...k.status() }));
  }

  return { authenticate, warm, keyStatus };
}

const NO_CONSTRAINTS: AuthConstraints = Object.freeze({});
const REVOKED = deny(401, 'token-revoked', INVALID_TOKEN_MESSAGE);
const REVOCATIONS_UNAVAILABLE = deny(503, 'revocation-unavailable', 'service temporarily unavailable, retry later', {
  headers: { 'retry-after': '1' },
  detail: 'revocations could not be synced from their store',
});

function fail(reason: 'token-invalid' | 'issuer-unknown' | 'issuer-not-allowed', detail: string): AuthResult {
  return { ok: false, decision: deny(401, reason, INVALID_TOKEN_MESSAGE, { detail }) };
}

/** Cached identities are shared by concurrent requests: no stage may change one. */
function freeze(identity: Identity): Identity {
  Object.freeze(identity.roles);
  Object.freeze(identity.groups);
  Object.freeze(identity.scopes);
  return Object.freeze(identity);
}
