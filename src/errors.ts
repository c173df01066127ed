/**
 * The one registry of fault codes. A fault is a bug, a misconfiguration or an unavailable
 * dependency; a denial is not a fault (see `pipeline/reasons.ts`). `docs/errors.md` lists every
 * code, and a test keeps the two in sync.
 */
export const ERROR_CODES = [
  'config-invalid',
  'config-read-failed',
  'jwks-fetch-failed',
  'discovery-failed',
  'signing-key-invalid',
  'directory-load-failed',
  'policy-invalid',
  'audit-write-failed',
  'audit-read-failed',
  'audit-chain-broken',
  'assertion-missing',
  'assertion-invalid',
  'assertion-audience-mismatch',
  'assertion-expired',
  'assertion-request-mismatch',
  'assertion-tool-mismatch',
  'assertion-body-mismatch',
  'assertion-replayed',
  'internal',
  'audit-store-locked',
  'tool-pins-invalid',
  'limit-store-failed',
  'replay-cache-failed',
  'revocation-store-failed',
  'approval-store-failed',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The single error class for faults. `message` is safe to log; it never contains a token or secret. */
export class BehalfError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BehalfError';
    this.code = code;
  }
}

export function isBehalfError(value: unknown, code?: ErrorCode): value is BehalfError {
  return value instanceof BehalfError && (code === undefined || value.code === code);
}
