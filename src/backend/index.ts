/**
 * `behalf/backend`: what a backend needs to trust requests forwarded by a behalf gateway.
 * It depends on jose and node builtins only; see docs/backend.md.
 */
export { createVerifier } from './verify-assertion.js';
export type { RequestLike, VerifiedCaller, Verifier, VerifyCallOptions, VerifyOptions } from './verify-assertion.js';
export { verifyRequest } from './verify-request.js';
export { createMemoryReplayCache, DEFAULT_REPLAY_CACHE_ENTRIES } from './replay-cache.js';
export type { ReplayCache } from './replay-cache.js';
export {
  ASSERTION_ALGORITHMS,
  ASSERTION_TYPE,
  bodyDigest,
  DEFAULT_ASSERTION_HEADER,
  MAX_ASSERTION_LIFETIME_SECONDS,
  MAX_INLINE_TARGET_BYTES,
  queryDigest,
} from '../forward/identity/assertion-claims.js';
export type { AssertionAlgorithm, AssertionClaims } from '../forward/identity/assertion-claims.js';
export { BehalfError, isBehalfError } from '../errors.js';
export type { ErrorCode } from '../errors.js';
