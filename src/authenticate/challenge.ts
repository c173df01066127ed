import type { Deny } from '../pipeline/decision.js';
import type { Reason } from '../pipeline/reasons.js';

/** RFC 6750 §3.1 error codes a bearer challenge can carry. */
export type BearerError = 'invalid_token' | 'invalid_request' | 'insufficient_scope';

const INVALID_REQUEST: ReadonlySet<Reason> = new Set<Reason>(['token-malformed', 'token-in-query', 'token-duplicate', 'token-too-large']);
const INVALID_TOKEN: ReadonlySet<Reason> = new Set<Reason>([
  'token-invalid',
  'token-expired',
  'token-not-yet-valid',
  'issuer-unknown',
  'issuer-not-allowed',
  'audience-mismatch',
  'token-type-invalid',
  'token-revoked',
]);

/**
 * The RFC 6750 error code for an authentication denial:
 * - `token-missing` -> none: the client sent no bearer credentials, so the challenge only says
 *   how to get some (RFC 6750 §3.1: "SHOULD NOT include an error code");
 * - a request that is malformed (two headers, token in the query, bad header syntax, a token over
 *   the size bound) -> `invalid_request`;
 * - a token that was sent and rejected -> `invalid_token`;
 * - anything else (including `idp-unavailable`, a 503 that needs no challenge) -> none.
 */
export function challengeErrorFor(reason: Reason): 'invalid_token' | 'invalid_request' | undefined {
  if (INVALID_TOKEN.has(reason)) return 'invalid_token';
  if (INVALID_REQUEST.has(reason)) return 'invalid_request';
  return undefined;
}

/**
 * The value of a `WWW-Authenticate` header for a bearer challenge, e.g.
 * `Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp", error="invalid_token"`.
 *
 * `resource_metadata` (RFC 9728 §5.1) tells MCP and OAuth clients where to discover the
 * authorization server. `description` and `scopes` are reduced to the characters RFC 6750 §3
 * allows (anything else is dropped), and every value is a quoted-string with `"` and `\`
 * escaped, so no input can add a parameter or a header line.
 *
 * This does NOT decide the status code or the error: see `challengeErrorFor`.
 */
export function bearerChallenge(opts: {
  resourceMetadata: string;
  error?: BearerError;
  description?: string;
  scopes?: readonly string[];
}): string {
  const params = [`resource_metadata=${quote(opts.resourceMetadata)}`];
  if (opts.error !== undefined) params.push(`error=${quote(opts.error)}`);
  if (opts.description !== undefined) {
    const d = opts.description.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '');
    if (d !== '') params.push(`error_description=${quote(d)}`);
  }
  if (opts.scopes !== undefined && opts.scopes.length > 0) {
    const s = opts.scopes.map((x) => x.replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, '')).filter((x) => x !== '');
    if (s.length > 0) params.push(`scope=${quote(s.join(' '))}`);
  }
  return `Bearer ${params.join(', ')}`;
}

function quote(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '');
  return `"${printable.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The one place a denial's bearer challenge is decided, for every door: every 401 carries one
 * (with the RFC 6750 error for the reason), and so does a 403 for missing scopes
 * (`error="insufficient_scope"`, `scope` listing every scope the operation needs: the MCP
 * step-up). `resourceMetadata` is the protected resource metadata URL of what was asked for.
 * `resourceScopes` are the scopes that resource needs (its metadata's `scopes_supported`): a 401
 * names them in `scope` (RFC 6750 §3; MCP authorization, scope selection: a client asks for the
 * challenge's `scope` first), none when the list is empty. Undefined when the denial needs no
 * challenge.
 *
 * This does NOT tell a 401's client which of those scopes a given call needs: authorize has not
 * run (there is no verified caller yet); the 403 step-up names them once it has.
 */
export function challengeFor(denial: Deny, resourceMetadata: string, resourceScopes: readonly string[] = []): string | undefined {
  if (denial.status !== 401 && denial.reason !== 'insufficient-scope') return undefined;
  const error = denial.reason === 'insufficient-scope' ? 'insufficient_scope' : challengeErrorFor(denial.reason);
  const scopes = denial.reason === 'insufficient-scope' ? denial.requiredScopes : denial.requiredScopes ?? resourceScopes;
  return bearerChallenge({
    resourceMetadata,
    ...(error === undefined ? {} : { error }),
    ...(scopes === undefined ? {} : { scopes }),
  });
}
