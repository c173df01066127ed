import { KeyObject, verify } from 'node:crypto';
import type { CompactJWSHeaderParameters, JWTVerifyGetKey } from 'jose';
import { MAX_ASSERTION_LIFETIME_SECONDS } from '../forward/identity/assertion-claims.js';
import { BATCH_ROOT_TYPE, MAX_BATCH_LEAVES } from '../forward/identity/batch-format.js';
import { HASH_BYTES } from '../forward/identity/merkle-tree.js';
import { BehalfError, isBehalfError } from '../errors.js';

/** A batch root whose signature verified. */
export interface VerifiedRoot {
  /** The 32-byte Merkle root. */
  readonly root: Buffer;
  /** Leaves in the tree. */
  readonly size: number;
  /** Signed at, epoch seconds: every leaf's `iat`. */
  readonly iat: number;
  /** No leaf of the batch may expire later, epoch seconds. */
  readonly exp: number;
}

/** Verifies signed batch roots, each once, and remembers the result. */
export interface RootVerifier {
  /** The verified root of `signedRoot`, or a rejection with a `BehalfError` (or a jose error for the caller to map). */
  verify(signedRoot: string): Promise<VerifiedRoot>;
  /** The verified root of `signedRoot` if it is kept and already verified, else `undefined` (then call `verify`). */
  known(signedRoot: string): VerifiedRoot | undefined;
}

/** Verified roots kept at most; more distinct live batches than this only cost extra verifications. */
export const DEFAULT_ROOT_CACHE_ENTRIES = 4_096;

const invalid = (message: string): BehalfError => new BehalfError('assertion-invalid', message);

const keyObjects = new WeakMap<object, KeyObject>();

/**
 * The payload of a signed root whose JWS signature verifies: header a JSON object with `alg`
 * ES256 or EdDSA, `typ` exactly `behalf-batch+jwt` and no `crit`; the key found by `getKey` (the
 * gateway's JWKS, by `kid`); the signature checked with node:crypto synchronously (ES256 in its
 * JWS form, r || s). jose's `jwtVerify` does the same through WebCrypto, a thread-pool job that
 * costs about twice the CPU; a root is verified once per batch, but at small batches that was
 * most of a backend's cost per request.
 *
 * This does NOT check any claim: the caller does.
 */
async function verifyRootSignature(signedRoot: string, getKey: JWTVerifyGetKey): Promise<Record<string, unknown>> {
  const parts = signedRoot.split('.');
  if (parts.length !== 3) throw invalid('the batch root is not a compact JWS');
  const [head, body, signature] = parts as [string, string, string];
  let header: unknown;
  let payload: unknown;
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw invalid('the batch root is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header) || typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid('the batch root is not a JSON object');
  const h = header as Record<string, unknown>;
  const alg = h['alg'];
  if (alg !== 'ES256' && alg !== 'EdDSA') throw invalid('the batch root algorithm is not allowed');
  if (h['typ'] !== BATCH_ROOT_TYPE) throw invalid('the batch root type is wrong');
  if (h['crit'] !== undefined || h['b64'] !== undefined) throw invalid('the batch root carries extensions');
  const found = await getKey(h as CompactJWSHeaderParameters, { payload: body, signature, protected: head });
  if (!(typeof found === 'object' && found !== null && ('type' in found) && (found.type === 'public' || found.type === 'secret'))) throw invalid('the batch root key is not usable');
  // Past the key lookup, anything that fails is the root's fault, never the key set's: refused
  // as invalid (401), not mapped to jwks-fetch-failed (503) like an error of getKey.
  let ok: boolean;
  try {
    let key = keyObjects.get(found);
    if (key === undefined) {
      key = found instanceof KeyObject ? found : KeyObject.from(found as CryptoKey);
      keyObjects.set(found, key);
    }
    if (key.type !== 'public' || key.asymmetricKeyType !== (alg === 'ES256' ? 'ec' : 'ed25519')) throw invalid('the batch root key does not match its algorithm');
    const data = Buffer.from(`${head}.${body}`);
    const sig = Buffer.from(signature, 'base64url');
    ok = alg === 'EdDSA' ? verify(null, data, key, sig) : verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch (err) {
    throw isBehalfError(err) ? err : new BehalfError('assertion-invalid', 'the batch root signature could not be checked', { cause: err });
  }
  if (!ok) throw invalid('the batch root signature is invalid');
  return payload as Record<string, unknown>;
}

/**
 * Creates the root verifier of one backend's verifier. A root is verified (`verifyRootSignature`:
 * signature with a key jose finds in the gateway's JWKS, `alg` ES256 or EdDSA, `typ` =
 * `behalf-batch+jwt`), then its claims: `iss`,
 * `iat` not in the future, `exp` not passed, age at most 60 s, all with the clock tolerance),
 * then its claims' shape (`root` 32 bytes in base64url, `size` an integer from 2 to 65 535,
 * `exp - iat` at most 60 s). The verification's promise is kept, keyed by the exact signed root,
 * until its `exp` plus the tolerance: the requests of one batch, even arriving together, cost
 * one signature verification. A failed verification is not kept.
 *
 * This does NOT check any leaf: the caller checks its proof against the root and its claims.
 * It does NOT re-fetch or re-check keys for a kept root: a key withdrawn from the gateway's JWKS
 * still verifies roots signed with it for their remaining life (at most 60 s).
 */
export function createRootVerifier(getKey: JWTVerifyGetKey, opts: { issuer: string; toleranceSeconds: number; now: () => number; maxEntries?: number }): RootVerifier {
  const kept = new Map<string, { promise: Promise<VerifiedRoot>; until: number; value?: VerifiedRoot }>();
  const maxEntries = opts.maxEntries ?? DEFAULT_ROOT_CACHE_ENTRIES;

  const check = async (signedRoot: string): Promise<VerifiedRoot> => {
    const payload = await verifyRootSignature(signedRoot, getKey);
    const nowS = Math.floor(opts.now() / 1_000);
    const tolerance = opts.toleranceSeconds;
    for (const name of ['iss', 'iat', 'exp', 'root', 'size']) {
      if (payload[name] === undefined) throw invalid(`the batch claim "${name}" is missing`);
    }
    if (payload['iss'] !== opts.issuer) throw invalid('the batch claim "iss" is invalid');
    const { root, size, iat, exp } = payload as Record<string, unknown>;
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) throw invalid(`the batch lives longer than ${MAX_ASSERTION_LIFETIME_SECONDS} s`);
    // As jose checks a JWT's times: exp passed, iat in the future, or older than the longest lifetime.
    if (exp <= nowS - tolerance || nowS - iat > MAX_ASSERTION_LIFETIME_SECONDS + tolerance) throw new BehalfError('assertion-expired', 'the batch has expired');
    if (iat > nowS + tolerance) throw invalid('the batch claim "iat" is in the future');
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 2 || size > MAX_BATCH_LEAVES) throw invalid('the batch size is invalid');
    if (typeof root !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(root)) throw invalid('the batch root is malformed');
    const bytes = Buffer.from(root, 'base64url');
    if (bytes.length !== HASH_BYTES || bytes.toString('base64url') !== root) throw invalid('the batch root is malformed');
    return { root: bytes, size, iat, exp };
  };

  return {
    known(signedRoot) {
      const hit = kept.get(signedRoot);
      return hit !== undefined && hit.until > opts.now() ? hit.value : undefined;
    },
    verify(signedRoot) {
      const nowMs = opts.now();
      const hit = kept.get(signedRoot);
      if (hit !== undefined && hit.until > nowMs) return hit.promise;
      if (hit !== undefined) kept.delete(signedRoot);
      const promise = check(signedRoot);
      if (kept.size >= maxEntries) {
        // Oldest first: Map keeps insertion order.
        for (const [key, entry] of kept) {
          if (kept.size < maxEntries && entry.until > nowMs) break;
          kept.delete(key);
        }
      }
      // Until verified, a root is kept for the longest it could live; once verified, until its own exp.
      const entry: { promise: Promise<VerifiedRoot>; until: number; value?: VerifiedRoot } = { promise, until: nowMs + (MAX_ASSERTION_LIFETIME_SECONDS + opts.toleranceSeconds) * 1_000 };
      kept.set(signedRoot, entry);
      promise.then(
        (v) => {
          entry.until = (v.exp + opts.toleranceSeconds) * 1_000;
          entry.value = v;
        },
        () => {
          if (kept.get(signedRoot) === entry) kept.delete(signedRoot);
        },
      );
      return promise;
    },
  };
}
