import { BODY_DIGEST_PREFIX, bodyDigest, EMPTY_BODY_DIGEST } from '../../lib/digest.js';

// Shipped with `behalf/backend`: a verifier computes the body digest the same way the gateway does.
export { BODY_DIGEST_PREFIX, bodyDigest, EMPTY_BODY_DIGEST };

/**
 * The shape of the gateway-signed identity assertion: one definition shared by the signer
 * (`forward/identity/signed-assertion.ts`) and the backend verifier (`behalf/backend`). This file must stay
 * free of gateway imports (config, pipeline, ...) because `behalf/backend` ships it to backends.
 *
 * The assertion is a compact JWS (JWT) with:
 * - header `{ alg: 'ES256' | 'EdDSA', kid: <RFC 7638 thumbprint>, typ: 'behalf-assertion+jwt' }`.
 *   The explicit `typ` (RFC 8725 §3.11) keeps the assertion from being confused with an access or
 *   ID token signed by the same kind of key, and lets a verifier refuse anything else.
 * - the claims in {@link AssertionClaims}.
 */

/** JOSE `typ` header of every assertion (RFC 8725 explicit typing). */
export const ASSERTION_TYPE = 'behalf-assertion+jwt';

/** The only signature algorithms an assertion may use. RS256 is refused (slower, larger keys). */
export const ASSERTION_ALGORITHMS = ['ES256', 'EdDSA'] as const;

/** An assertion signature algorithm. */
export type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number];

/** Longest lifetime (`exp - iat`) an assertion may have, in seconds. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 60;

/** Request header that carries the assertion unless a route configures another (same as `DEFAULTS.assertionHeader`). */
export const DEFAULT_ASSERTION_HEADER = 'X-Behalf-Assertion';

/**
 * Longest request target (path plus `?` plus query), in bytes, that `htu` carries in full. A
 * longer target with a query is bound by `htu` = the path and `htq` = {@link queryDigest} of the
 * query, so the assertion header stays small: a full 8 KB query would otherwise appear twice in
 * the request head (request line and base64url assertion, ~19 KB), past node's 16 KiB
 * `maxHeaderSize`, and the backend would answer 431.
 */
export const MAX_INLINE_TARGET_BYTES = 1_024;

/**
 * The query digest carried in `htq`: `sha256:` + base64url(SHA-256) of the query string exactly
 * as on the request line, without the leading `?` (a string is hashed as UTF-8).
 *
 * This does NOT decode, sort or otherwise normalise the query: `a=1&b=2` and `b=2&a=1`, or `%41`
 * and `A`, give different digests, so signer and verifier must hash the same bytes.
 */
export function queryDigest(query: string): string {
  return bodyDigest(query);
}

/**
 * How an assertion binds a request target: `{ htu: target }` when the target is at most
 * {@link MAX_INLINE_TARGET_BYTES} bytes or has no query (no behaviour change for short targets),
 * else `{ htu: <path>, htq: queryDigest(<query>) }`, split at the first `?`. One SHA-256, only
 * for long targets.
 *
 * This does NOT validate the target (origin-form, encoding): the forward stage builds it.
 */
export function targetBinding(target: string): { htu: string; htq?: string } {
  if (target.length <= MAX_INLINE_TARGET_BYTES && Buffer.byteLength(target) <= MAX_INLINE_TARGET_BYTES) return { htu: target };
  const mark = target.indexOf('?');
  if (mark < 0) return { htu: target };
  return { htu: target.slice(0, mark), htq: queryDigest(target.slice(mark + 1)) };
}


/**
 * Claims of a behalf assertion. Names follow registered JWT claims where one exists
 * (`iss`, `aud`, `sub`, `jti`, `iat`, `exp`, `act` from RFC 8693, `azp` from OIDC, `scope` from
 * RFC 8693 §4.2); the rest are behalf's own.
 */
export interface AssertionClaims {
  /** The gateway's `server.publicUrl`. */
  iss: string;
  /** The backend this assertion is for: `route.audience`, default the upstream origin. */
  aud: string;
  /** The verified user id. */
  sub: string;
  /** The user's tenant, when the IdP or issuer config gives one. */
  tenant?: string;
  email?: string;
  name?: string;
  /** The user's roles (always present, possibly empty). */
  roles: string[];
  /** The user's groups, when any. */
  groups?: string[];
  /** The token's scopes, space-separated (RFC 8693 §4.2); `''` when none. */
  scope: string;
  /** The acting client (the LLM or agent), RFC 8693 §4.1. Absent when the token names none. */
  act?: { sub: string };
  /** Same client as `act.sub`, for libraries that read OIDC's `azp`. */
  azp?: string;
  /** `iss` of the user's own access token (which IdP vouched for the user). */
  idp_iss: string;
  /** HTTP method of the upstream request, upper case. */
  htm: string;
  /**
   * The upstream request target in origin-form: path plus query exactly as sent on the request
   * line (`/v1/reviews/bob?year=2024`), i.e. what a backend sees in `req.url`. Unlike DPoP's
   * `htu` (RFC 9449) it holds no scheme or host (`aud` binds the backend) and it DOES include the
   * query, so a query cannot be changed in transit. When the target is longer than
   * {@link MAX_INLINE_TARGET_BYTES} and has a query, `htu` is the path alone (no `?`) and the
   * query is bound by `htq`.
   */
  htu: string;
  /**
   * Query digest, present only for a long target (see `htu`): {@link queryDigest} of the query
   * exactly as sent, without the `?`. With `htq`, the request target is `htu + '?' + query`.
   */
  htq?: string;
  /**
   * Body digest: `sha256:<base64url(SHA-256(body))>` of the exact bytes forwarded (after any
   * Content-Encoding, i.e. as on the wire). Always present: a request without a body carries the
   * digest of the empty string, so a body cannot be added in transit.
   */
  bdg: string;
  /** The MCP tool name, when the request is a tool call. */
  tool?: string;
  /**
   * For a tool call: `sha256:<base64url>` of the canonical JSON of the tool's arguments, so a
   * backend (or an audit query) can tie the request to the arguments the policy decided on.
   * Absent on requests that are not tool calls.
   */
  args?: string;
  /** Crypto-random id, unique per assertion (replay detection). */
  jti: string;
  /** Issued at, epoch seconds. */
  iat: number;
  /** Expiry, epoch seconds; at most {@link MAX_ASSERTION_LIFETIME_SECONDS} after `iat`. */
  exp: number;
}

/** Claims every valid assertion has; a verifier refuses a token missing any of them. */
export const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'jti', 'iat', 'exp', 'htm', 'htu', 'bdg', 'idp_iss'] as const;
