import { jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ASSERTION_ALGORITHMS, MAX_ASSERTION_LIFETIME_SECONDS } from '../forward/identity/assertion-claims.js';
import { BATCH_ROOT_TYPE, MAX_BATCH_LEAVES } from '../forward/identity/batch-format.js';
import { HASH_BYTES } from '../forward/identity/merkle-tree.js';
import { BehalfError } from '../errors.js';

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
}

/** Verified roots kept at most; more distinct live batches than this only cost extra verifications. */
export const DEFAULT_ROOT_CACHE_ENTRIES = 4_096;

const invalid = (message: string): BehalfError => new BehalfError('assertion-invalid', message);

/**
 * Creates the root verifier of one backend's verifier. A root is verified with jose (signature
 * with a key from the gateway's JWKS, `alg` ES256 or EdDSA, `typ` = `behalf-batch+jwt`, `iss`,
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
  const kept = new Map<string, { promise: Promise<VerifiedRoot>; until: number }>();
  const maxEntries = opts.maxEntries ?? DEFAULT_ROOT_CACHE_ENTRIES;

  const check = async (signedRoot: string): Promise<VerifiedRoot> => {
    const { payload } = await jwtVerify(signedRoot, getKey, {
      issuer: opts.issuer,
      algorithms: [...ASSERTION_ALGORITHMS],
      typ: BATCH_ROOT_TYPE,
      clockTolerance: opts.toleranceSeconds,
      maxTokenAge: MAX_ASSERTION_LIFETIME_SECONDS,
      requiredClaims: ['iss', 'iat', 'exp', 'root', 'size'],
      currentDate: new Date(opts.now()),
    });
    const { root, size, iat, exp } = payload as Record<string, unknown>;
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) throw invalid(`the batch lives longer than ${MAX_ASSERTION_LIFETIME_SECONDS} s`);
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 2 || size > MAX_BATCH_LEAVES) throw invalid('the batch size is invalid');
    if (typeof root !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(root)) throw invalid('the batch root is malformed');
    const bytes = Buffer.from(root, 'base64url');
    if (bytes.length !== HASH_BYTES || bytes.toString('base64url') !== root) throw invalid('the batch root is malformed');
    return { root: bytes, size, iat, exp };
  };

  return {
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
      const entry = { promise, until: nowMs + (MAX_ASSERTION_LIFETIME_SECONDS + opts.toleranceSeconds) * 1_000 };
      kept.set(signedRoot, entry);
      promise.then(
        (v) => {
          entry.until = (v.exp + opts.toleranceSeconds) * 1_000;
        },
        () => {
          if (kept.get(signedRoot) === entry) kept.delete(signedRoot);
        },
      );
      return promise;
    },
  };
}
