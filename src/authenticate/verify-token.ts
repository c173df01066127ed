import { errors, jwtVerify, type JWTPayload, type JWTVerifyOptions, type CryptoKey } from 'jose';
import type { IssuerConfig } from '../config/schema.js';
import { isBehalfError } from '../errors.js';
import { deny, type Deny } from '../pipeline/decision.js';
import type { IssuerKeys } from './issuer-keys.js';

/** Message the client sees for every token failure; the reason and detail go to the audit record. */
export const INVALID_TOKEN_MESSAGE = 'invalid or expired access token';

/**
 * Algorithms that are never accepted, whatever the configuration says: `none` (no signature) and
 * HMAC (a shared secret; with a public-key issuer it enables the "sign with the public key" attack).
 */
export function isForbiddenAlgorithm(alg: string): boolean {
  const a = alg.toUpperCase();
  return a === 'NONE' || a.startsWith('HS');
}

/** The verified claims, or the denial that explains why the token was refused. */
export type VerifyResult = { ok: true; payload: JWTPayload } | { ok: false; decision: Deny };

/**
 * Verify a compact JWS access token against one configured issuer (RFC 8725 / RFC 9068):
 * signature with a key from the issuer's JWKS; `alg` in the issuer's allow-list minus `none` and
 * `HS*`; `iss` equal to the configured issuer; `aud` containing one of `audience`; `exp` present
 * and in the future, `nbf` and `iat` not in the future (each with `clockSkewSeconds`); unknown
 * `crit` header parameters rejected; `typ` equal to `requireType` when configured
 * (`at+jwt` and `application/at+jwt` are the same type, compared case-insensitively).
 *
 * A signature that fails under a key of the cached set gets one more try when a refetch (within
 * `issuers[].jwksRefetch`, IssuerKeys.recheck) shows the IdP changed its set: an IdP may replace
 * the key material under a `kid` it keeps. The token is still only accepted with a key the IdP
 * publishes; if that refetch fails the answer is 503 `idp-unavailable` (the token may be good).
 *
 * This does NOT check revocation, scopes, the subject's existence or any claim beyond those
 * listed; it does NOT read the `jwk`, `jku`, `x5u` or `x5c` headers (keys come only from the
 * issuer's JWKS); it does NOT bound the token size (the caller does, before calling this).
 *
 * @param nowMs current time, ms since epoch (the injected clock).
 */
export async function verifyToken(
  token: string,
  issuer: IssuerConfig,
  keys: IssuerKeys,
  audience: readonly string[],
  nowMs: number,
): Promise<VerifyResult> {
  const options: JWTVerifyOptions = {
    issuer: issuer.issuer,
    audience: [...audience],
    algorithms: issuer.algorithms.filter((a) => !isForbiddenAlgorithm(a)),
    requiredClaims: ['exp'],
    clockTolerance: issuer.clockSkewSeconds,
    currentDate: new Date(nowMs),
    ...(issuer.requireType === undefined ? {} : { typ: issuer.requireType }),
  };
  const mark = keys.mark();
  let checked = await checkSignature(token, keys, options);
  if (!checked.ok && checked.badSignature) {
    // The IdP may have replaced the key under this kid: look once more, within the refetch limits.
    let recheck: Awaited<ReturnType<IssuerKeys['recheck']>>;
    try {
      recheck = await keys.recheck(mark);
    } catch (err) {
      return { ok: false, decision: fromError(err, token) };
    }
    if (recheck === 'changed') checked = await checkSignature(token, keys, options);
    else if (recheck === 'limited') return { ok: false, decision: fail('token-invalid', 'signature verification failed (JWKS refetch limit reached)') };
  }
  if (!checked.ok) return { ok: false, decision: checked.decision };
  const payload = checked.payload;
  // jose checks `iat` only when maxTokenAge is set; a token "issued" in the future is forged or
  // comes from an IdP whose clock is wrong, and either way must not be accepted.
  if (typeof payload.iat === 'number' && payload.iat > nowMs / 1000 + issuer.clockSkewSeconds) {
    return { ok: false, decision: fail('token-not-yet-valid', 'iat is in the future') };
  }
  return { ok: true, payload };
}

type Checked = { ok: true; payload: JWTPayload } | { ok: false; decision: Deny; badSignature: boolean };

/** `jwtVerify` with the issuer's keys; says whether a failure was the signature (worth a recheck). */
async function checkSignature(token: string, keys: IssuerKeys, options: JWTVerifyOptions): Promise<Checked> {
  try {
    return { ok: true, payload: (await jwtVerify(token, keys.resolve, options)).payload };
  } catch (err) {
    const multiple = multipleKeys(err);
    if (multiple === undefined) return { ok: false, decision: fromError(err, token), badSignature: err instanceof errors.JWSSignatureVerificationFailed };
    return tryEachKey(token, multiple, options);
  }
}

/** A JWKS with several keys matching `kid`/`alg` (e.g. during rotation without kids): try each. */
async function tryEachKey(token: string, candidates: AsyncIterable<CryptoKey>, options: JWTVerifyOptions): Promise<Checked> {
  for await (const key of candidates) {
    try {
      return { ok: true, payload: (await jwtVerify(token, key, options)).payload };
    } catch (err) {
      // Claim failures come after a good signature: that is the answer. Anything else (a bad
      // signature, a key jose refuses) only rules out this candidate.
      if (err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTExpired) {
        return { ok: false, decision: fromError(err, token), badSignature: false };
      }
    }
  }
  return { ok: false, decision: fail('token-invalid', 'signature verification failed'), badSignature: true };
}

function multipleKeys(err: unknown): AsyncIterable<CryptoKey> | undefined {
  if (!(err instanceof errors.JWKSMultipleMatchingKeys)) return undefined;
  const iterable = err as unknown as Partial<AsyncIterable<CryptoKey>>;
  return typeof iterable[Symbol.asyncIterator] === 'function' ? (iterable as AsyncIterable<CryptoKey>) : undefined;
}

function fail(reason: Parameters<typeof deny>[1], detail: string): Deny {
  return deny(401, reason, INVALID_TOKEN_MESSAGE, { detail });
}

/** Map a verification failure to a denial. Never puts the token in the detail. */
function fromError(err: unknown, token: string): Deny {
  if (isBehalfError(err)) {
    return deny(503, 'idp-unavailable', 'the identity provider is unavailable, retry later', { detail: err.message });
  }
  if (err instanceof errors.JWTExpired) return fail('token-expired', 'exp is in the past');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === 'nbf' && err.reason === 'check_failed') return fail('token-not-yet-valid', 'nbf is in the future');
    if (claim === 'aud') return fail('audience-mismatch', err.reason === 'missing' ? 'aud claim missing' : 'aud does not include an accepted audience');
    if (claim === 'typ') return fail('token-type-invalid', 'typ header is not the required type');
    if (err.reason === 'missing') return fail('token-invalid', `${safe(claim)} claim missing`);
    return fail('token-invalid', `${safe(claim)} claim invalid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return fail('token-invalid', `alg ${headerAlg(token)} not allowed`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return fail('token-invalid', 'signature verification failed');
  if (err instanceof errors.JWKSNoMatchingKey) return fail('token-invalid', 'no key in the issuer JWKS matches kid/alg');
  if (err instanceof errors.JOSEError) return fail('token-invalid', safe(err.message));
  // jose throws TypeError for keys it refuses (e.g. RSA under 2048 bits): reject the token.
  if (err instanceof Error) return fail('token-invalid', `verification error: ${safe(err.message)}`);
  return fail('token-invalid', 'verification error');
}

function headerAlg(token: string): string {
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? safe(header.alg) : '(missing)';
  } catch {
    return '(unreadable)';
  }
}

/** Keep details short and printable: they come partly from attacker-controlled input. */
function safe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}
