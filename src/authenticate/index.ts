/**
 * The authenticate stage: find the bearer token, verify it against a configured issuer, and
 * normalise its claims to an `Identity`. See docs/authentication.md.
 */
export { createAuthenticator } from './authenticator.js';
export type { AuthenticatorOptions, AuthRequest, AuthResult, Authenticator } from './authenticator.js';
export { bearerChallenge, challengeErrorFor, challengeFor } from './challenge.js';
export type { BearerError } from './challenge.js';
export { extractBearerToken } from './extract-token.js';
export { mapClaims, readClaim } from './map-claims.js';
export { isForbiddenAlgorithm } from './verify-token.js';
export type { Identity, DirectoryEntry } from './identity.js';
