import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { BehalfError, isBehalfError, type ErrorCode } from '../errors.js';
import { ASSERTION_ALGORITHMS, ASSERTION_TYPE, DEFAULT_ASSERTION_HEADER, MAX_ASSERTION_LIFETIME_SECONDS, REQUIRED_CLAIMS } from '../forward/identity/assertion-claims.js';
import { BATCH_SEPARATOR, parseBatchedAssertion, type BatchedAssertionParts } from '../forward/identity/batch-format.js';
import { createRootVerifier } from './batch-roots.js';
import { verifiedLeafClaims } from './batched-leaf.js';
import type { ReplayCache } from './replay-cache.js';
import { callerFromClaims, type RequestLike, type VerifiedCaller } from './verified-caller.js';

export type { RequestLike, VerifiedCaller } from './verified-caller.js';

/** How a backend checks behalf assertions. */
export interface VerifyOptions {
  /** The gateway's `server.publicUrl`, compared exactly with `iss`. */
  issuer: string;
  /** This backend's audience, as configured on the gateway route (default there: the upstream origin). */
  audience: string;
  /** Where the gateway's public keys are; default `<issuer>/.well-known/jwks.json`. Fetched lazily, cached. */
  jwksUrl?: string;
  /** A local public key set instead of fetching one (tests, air-gapped backends). Wins over `jwksUrl`. */
  keys?: JSONWebKeySet;
  /**
   * Least time between two fetches of the gateway's JWKS caused by a key id the verifier does
   * not know (the gateway rotated its key), ms. Default 1 000 (1 s): a rotation is picked up
   * within a second, and assertions with random key ids make at most one fetch a second. (jose's
   * own default, 30 s, left assertions signed with a new key refused for up to 30 s.)
   */
  jwksRefetchMs?: number;
  /** Request header holding the assertion; default `X-Behalf-Assertion`. */
  header?: string;
  /** Allowed clock difference with the gateway, seconds; default 5. */
  clockToleranceSeconds?: number;
  /**
   * Optional `jti` cache: a second use of one assertion is refused. `createMemoryReplayCache` for one
   * process; `createRedisReplayCache` (`behalf/stores/redis`) for several. If it fails, the request is refused (`replay-cache-failed`).
   */
  replayCache?: ReplayCache;
  /** Clock, epoch milliseconds; default `Date.now`. */
  now?: () => number;
  /**
   * The MCP tools this backend serves, by their own names (an upstream MCP server: its tool names,
   * without the gateway's namespace). When given, an assertion whose `tool` is missing or not in
   * the list is refused (`assertion-tool-mismatch`). Default: no tool check here; pass
   * `{ tool }` to `verify` to require the one being called.
   */
  tools?: readonly string[];
  /**
   * The assertion forms accepted: `jwt` (one signature each) and `batched` (a leaf of a signed
   * batch, docs/batched-assertions.md). Default both: the gateway sends `batched` per route, and a
   * batch of one as `jwt`. A form left out is refused (`assertion-invalid`).
   */
  forms?: readonly ('jwt' | 'batched')[];
}

/** What one call of `verify` expects of the assertion beyond the request itself. */
export interface VerifyCallOptions {
  /**
   * The tool this request is being served as (an MCP server: `params.name` of the `tools/call`
   * it received). The assertion's `tool` must equal it exactly, else `assertion-tool-mismatch`:
   * an assertion minted for one tool is refused for another, even with the same arguments.
   */
  tool?: string;
}

/** A verifier bound to one gateway and audience. */
export interface Verifier {
  /**
   * Verifies the assertion on `req`. `body` MUST be the raw bytes received (before any JSON
   * parsing; a string is taken as UTF-8) whenever the request has a body.
   * `expect.tool`, when given, must equal the assertion's `tool`.
   * Resolves the caller, or rejects with a `BehalfError`.
   */
  verify(req: RequestLike, body?: Uint8Array | string, expect?: VerifyCallOptions): Promise<VerifiedCaller>;
}

/** Largest assertion accepted before any crypto, in characters (16 KiB). */
const MAX_ASSERTION_CHARS = 16_384;

const fail = (code: ErrorCode, message: string): BehalfError => new BehalfError(code, message);

function mapJoseError(err: unknown): BehalfError {
  if (err instanceof errors.JWTExpired) return new BehalfError('assertion-expired', 'the assertion has expired', { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return new BehalfError('assertion-audience-mismatch', 'the assertion is for another audience', { cause: err });
    return new BehalfError('assertion-invalid', `the assertion claim "${err.claim}" is invalid`, { cause: err });
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError) || err.code === 'ERR_JOSE_GENERIC') {
    // The key set could not be had: a fault of this backend's setup or of the gateway, not a bad caller.
    return new BehalfError('jwks-fetch-failed', 'the gateway key set could not be fetched', { cause: err });
  }
  return new BehalfError('assertion-invalid', 'the assertion signature or format is invalid', { cause: err });
}

/** Asks the replay cache; a cache that cannot answer refuses the assertion (fail closed), never lets a possible replay through. */
async function seenBefore(cache: ReplayCache, jti: string, expiresAt: number): Promise<boolean> {
  try {
    return await cache.seen(jti, expiresAt);
  } catch (err) {
    if (isBehalfError(err, 'replay-cache-failed')) throw err;
    throw new BehalfError('replay-cache-failed', 'the replay cache could not be checked; the assertion is refused', { cause: err });
  }
}

/**
 * Creates a verifier for assertions from one gateway (`issuer`) to one backend (`audience`).
 * The remote key set is created once here and cached by jose (refetched at most every 30 s on an
 * unknown `kid`, and every 10 min otherwise).
 *
 * `verify` checks, in order: exactly one assertion header (else `assertion-missing` /
 * `assertion-invalid`); for the batched form (a value holding `~`, docs/batched-assertions.md),
 * its batch root's signature once per batch (`createRootVerifier`, typ `behalf-batch+jwt`) and
 * the leaf's inclusion proof and claims (`verifiedLeafClaims`), then everything below from the
 * request binding on; for the plain form, the signature with a key from the gateway's JWKS, `alg` limited to ES256
 * and EdDSA (so never `none` or an HMAC), header `typ` = `behalf-assertion+jwt`, `iss`, the
 * required claims (`assertion-invalid`); `aud` (`assertion-audience-mismatch`); `exp`, and `iat`
 * neither in the future nor more than 60 s old, with the clock tolerance (`assertion-expired` or
 * `assertion-invalid`) and a lifetime `exp - iat` of at most 60 s; the method, which must be upper
 * case, equal to `htm`, and the request target, which must be origin-form (`/path?query`; an
 * absolute-form or `*` target is refused), equal to `htu`, or for a long target its path equal to
 * `htu` and its query's SHA-256 equal to `htq` (`assertion-request-mismatch`); with `tools` or
 * `expect.tool`, the assertion's `tool` (`assertion-tool-mismatch`); the SHA-256 of
 * `body` equal to `bdg` (`assertion-body-mismatch`; calling without `body` for an assertion that
 * binds a non-empty body is also `assertion-body-mismatch`, never a silent pass); and last, when
 * a replay cache is given, that the `jti` is new (`assertion-replayed`). A JWKS that cannot be
 * fetched is `jwks-fetch-failed`, and a replay cache that fails (throws or rejects) is
 * `replay-cache-failed`: both refuse the request, and mean answer 503, not 401.
 *
 * This does NOT check authorization: that the user may do what the request asks is still the
 * backend's decision (the gateway already applied its own policy). It does NOT check headers
 * other than the assertion, nor the request's Host or scheme (`aud` binds the backend). It does
 * NOT decode Content-Encoding: the digest is over the body bytes as received. It does NOT detect
 * replays unless a `replayCache` is given, and a memory cache only within one process. It does
 * NOT check which tool is called unless `tools` or `expect.tool` is given: an MCP server's
 * assertion binds `POST /mcp` and the arguments' digest, so without them an assertion for one
 * tool verifies for another tool with the same arguments. It does NOT normalise the target
 * (percent-encoding, dot segments, query order) nor the method's case. A proxy between the
 * gateway and the backend that rewrites the method, path, query or body makes verification fail
 * by design.
 */
const DEFAULT_JWKS_REFETCH_MS = 1_000; // 1 s between fetches caused by an unknown key id

export function createVerifier(opts: VerifyOptions): Verifier {
  const header = (opts.header ?? DEFAULT_ASSERTION_HEADER).toLowerCase();
  const tolerance = opts.clockToleranceSeconds ?? 5;
  const now = opts.now ?? Date.now;
  const jwksUrl = opts.jwksUrl ?? `${opts.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
  const getKey: JWTVerifyGetKey = opts.keys !== undefined ? createLocalJWKSet(opts.keys) : createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: opts.jwksRefetchMs ?? DEFAULT_JWKS_REFETCH_MS });
  const tools = opts.tools === undefined ? undefined : new Set(opts.tools);
  const forms = new Set(opts.forms ?? ['jwt', 'batched']);
  const roots = createRootVerifier(getKey, { issuer: opts.issuer, toleranceSeconds: tolerance, now });

  const jwtClaims = async (raw: string): Promise<JWTPayload> => {
    if (!forms.has('jwt')) throw fail('assertion-invalid', 'this backend does not accept the plain assertion form');
    try {
      const { payload } = await jwtVerify(raw, getKey, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: [...ASSERTION_ALGORITHMS],
        typ: ASSERTION_TYPE,
        clockTolerance: tolerance,
        maxTokenAge: MAX_ASSERTION_LIFETIME_SECONDS,
        requiredClaims: [...REQUIRED_CLAIMS],
        currentDate: new Date(now()),
      });
      return payload;
    } catch (err) {
      throw mapJoseError(err);
    }
  };

  const leafOptions = (nowMs: number) => ({ issuer: opts.issuer, audience: opts.audience, toleranceSeconds: tolerance, nowMs });
  const slowBatchedClaims = async (parts: BatchedAssertionParts): Promise<JWTPayload> => {
    let root;
    try {
      root = await roots.verify(parts.signedRoot);
    } catch (err) {
      throw isBehalfError(err) ? err : mapJoseError(err);
    }
    return verifiedLeafClaims(parts, root, leafOptions(now()));
  };
  // The claims of a batched assertion: at once when its root is already verified (every request
  // of a batch but the first), else after the root's verification.
  const batchedClaims = (raw: string): JWTPayload | Promise<JWTPayload> => {
    if (!forms.has('batched')) throw fail('assertion-invalid', 'this backend does not accept the batched assertion form');
    const parts = parseBatchedAssertion(raw);
    if (parts === undefined) throw fail('assertion-invalid', 'the batched assertion is malformed');
    const root = roots.known(parts.signedRoot);
    return root === undefined ? slowBatchedClaims(parts) : verifiedLeafClaims(parts, root, leafOptions(now()));
  };

  return {
    async verify(req, body, expect) {
      const raw = req.headers[header];
      if (raw === undefined || raw === '') throw fail('assertion-missing', `no ${opts.header ?? DEFAULT_ASSERTION_HEADER} header`);
      if (Array.isArray(raw) || raw.includes(',')) throw fail('assertion-invalid', 'more than one assertion was sent');
      if (raw.length > MAX_ASSERTION_CHARS) throw fail('assertion-invalid', 'the assertion is too large');

      const pending = raw.includes(BATCH_SEPARATOR) ? batchedClaims(raw) : jwtClaims(raw);
      const claims = pending instanceof Promise ? await pending : pending;
      const { caller, exp } = callerFromClaims(claims, req, body, tools, expect?.tool);

      // Last, so that a forged or mismatched assertion never takes a slot in the cache.
      if (opts.replayCache !== undefined && (await seenBefore(opts.replayCache, caller.jti, exp + tolerance))) {
        throw fail('assertion-replayed', 'the assertion was already used');
      }
      return caller;
    },
  };
}
