import type { JWTPayload } from 'jose';
import { BehalfError } from '../errors.js';
import { MAX_ASSERTION_LIFETIME_SECONDS, REQUIRED_CLAIMS } from '../forward/identity/assertion-claims.js';
import type { BatchedAssertionParts } from '../forward/identity/batch-format.js';
import { leafHash, rootFromProof } from '../forward/identity/merkle-tree.js';
import type { VerifiedRoot } from './batch-roots.js';

const invalid = (message: string): BehalfError => new BehalfError('assertion-invalid', message);

/**
 * The claims of a batched assertion's leaf, once it is proven part of its verified batch.
 *
 * DOES, in order: recompute the root from the leaf's hash, its index and proof, with the batch's
 * signed size, and compare it with the signed root (else `assertion-invalid`); parse the leaf as
 * a JSON object (else `assertion-invalid`); require every claim an ordinary assertion requires;
 * `iss` equal to `issuer` and the batch's; `aud` equal to `audience` (or, as jose allows, an array
 * holding it; else `assertion-audience-mismatch`); `iat` equal to the batch's `iat` and `exp` no
 * later than the batch's `exp` (else `assertion-invalid`); and the clock as jose checks an
 * ordinary assertion: `exp` not passed, `iat` neither in the future nor more than 60 s old, all
 * with `toleranceSeconds` (else `assertion-expired` or `assertion-invalid`).
 *
 * This does NOT verify the batch's signature (`createRootVerifier` did) nor the request binding,
 * tool, body or replay (`callerFromClaims` and the replay cache do, as for an ordinary assertion).
 */
export function verifiedLeafClaims(parts: BatchedAssertionParts, root: VerifiedRoot, opts: { issuer: string; audience: string; toleranceSeconds: number; nowMs: number }): JWTPayload {
  const computed = rootFromProof(leafHash(parts.leaf), parts.index, root.size, parts.path);
  if (computed === undefined || !computed.equals(root.root)) throw invalid('the assertion is not part of its signed batch');
  let claims: unknown;
  try {
    claims = JSON.parse(parts.leaf.toString('utf8'));
  } catch {
    throw invalid('the assertion claims are not JSON');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw invalid('the assertion claims are not a JSON object');
  const c = claims as Record<string, unknown>;
  for (const name of REQUIRED_CLAIMS) {
    if (c[name] === undefined) throw invalid(`the assertion claim "${name}" is missing`);
  }
  if (c['iss'] !== opts.issuer) throw invalid('the assertion claim "iss" is invalid');
  const aud = c['aud'];
  if (!(aud === opts.audience || (Array.isArray(aud) && aud.includes(opts.audience)))) {
    throw new BehalfError('assertion-audience-mismatch', 'the assertion is for another audience');
  }
  const { iat, exp } = c;
  if (typeof iat !== 'number' || typeof exp !== 'number' || iat !== root.iat || exp > root.exp) throw invalid('the assertion times fall outside its batch');
  const now = Math.floor(opts.nowMs / 1_000);
  const tolerance = opts.toleranceSeconds;
  if (exp <= now - tolerance) throw new BehalfError('assertion-expired', 'the assertion has expired');
  if (iat > now + tolerance) throw invalid('the assertion claim "iat" is invalid');
  if (now - iat > MAX_ASSERTION_LIFETIME_SECONDS + tolerance) throw new BehalfError('assertion-expired', 'the assertion has expired');
  return c as JWTPayload;
}
