import { createHash, hash as oneShotHash } from 'node:crypto';

/**
 * The digests behalf computes: request bodies and tool arguments (bound into the signed
 * assertion and the audit record), audit records and pinned tool definitions. This file imports
 * nothing of the gateway: `behalf/backend` ships it to backends.
 */

/** Prefix of every body digest value: the hash algorithm, then `:`. */
export const BODY_DIGEST_PREFIX = 'sha256:';

/**
 * The body digest of `body`: `sha256:` + base64url (no padding) of SHA-256 over the bytes.
 * `undefined` and an empty body give the same digest (that of zero bytes). A string is hashed as
 * UTF-8.
 *
 * This does NOT decode Content-Encoding or normalise anything (JSON whitespace, line endings):
 * it covers the exact bytes, so signer and verifier must hash the same bytes.
 */
export function bodyDigest(body: Uint8Array | string | undefined): string {
  if (body === undefined) return EMPTY_BODY_DIGEST;
  // One-shot: a third of the cost of a createHash object per call (a string is hashed as UTF-8).
  return BODY_DIGEST_PREFIX + oneShotHash('sha256', body, 'base64url');
}

/** The digest of zero bytes, i.e. of a request without a body. */
export const EMPTY_BODY_DIGEST = BODY_DIGEST_PREFIX + createHash('sha256').digest('base64url');

/** Lowercase hex SHA-256 of a string's UTF-8 bytes. */
export function sha256Hex(text: string): string {
  return oneShotHash('sha256', text, 'hex');
}
