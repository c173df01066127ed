import type { IncomingHttpHeaders } from 'node:http';
import { deny, type Deny } from '../pipeline/decision.js';

/** The parts of an HTTP request the authenticate stage reads. */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /** Node's `req.rawHeaders`: the only place where a second `Authorization` header is visible. */
  rawHeaders: readonly string[];
  /** Path and query as received (`req.url`; a server request always has one). */
  url?: string | undefined;
}

/** The client-facing message for a request whose credentials are absent or malformed. */
export const MISSING_TOKEN_MESSAGE = 'a valid bearer access token is required';

/** RFC 6750 §2.1 `b64token`. A JWT uses the base64url subset; the verifier checks the rest. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** `auth-scheme [ 1*SP credentials ]` (RFC 9110 §11.4). */
const CREDENTIALS = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +([^]*))?$/;
/**
 * The common case in one scan: `Bearer` (any case), one space, one b64token, nothing else. Every
 * header it matches, the general checks below accept with the same token; anything else (two
 * spaces, another scheme, a bad character) takes the general path, which gives the reason.
 */
const PLAIN_BEARER = /^[Bb][Ee][Aa][Rr][Ee][Rr] ([A-Za-z0-9\-._~+/]+=*)$/;

/** The one bearer token of the request, or the denial saying why there is none. */
export type ExtractResult = { ok: true; token: string } | { ok: false; decision: Deny };

/**
 * Find the one bearer token of a request, RFC 6750 §2.1 only (`Authorization: Bearer <token>`,
 * scheme case-insensitive). Checks, in order, before the token is decoded in any way:
 *
 * - more than one `Authorization` header -> `token-duplicate` (Node keeps only the first in
 *   `req.headers`, so `rawHeaders` is counted);
 * - an `access_token` query parameter, with or without a header -> `token-in-query` (RFC 6750
 *   §2.3 tokens end up in logs and Referer headers; we refuse them rather than ignore them, so a
 *   misconfigured client learns at once);
 * - no header, an empty one, or another scheme (`Basic`, `DPoP`, ...) -> `token-missing`: a
 *   Basic header is simply not a bearer token (RFC 6750 §3.1: no error code in the challenge);
 * - header or token over `maxTokenBytes` -> `token-too-large`;
 * - `Bearer` with no token, several tokens, or characters outside `b64token` -> `token-malformed`.
 *
 * Every denial has status 401 so that clients follow the `WWW-Authenticate` challenge; see
 * `challengeErrorFor` for the error code each reason maps to.
 *
 * This does NOT look at the request body (RFC 6750 §2.2 form tokens are not supported and a body
 * is never parsed here), and does NOT check that the token is a JWT or verify it.
 */
export function extractBearerToken(req: AuthRequest, maxTokenBytes: number): ExtractResult {
  let count = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    // Lower-casing only names of the right length: no new string for every other header.
    const name = raw[i];
    if (name !== undefined && name.length === 13 && name.toLowerCase() === 'authorization') count++;
  }
  if (count > 1) return no('token-duplicate', `${count} Authorization headers`);
  if (req.url !== undefined && hasQueryToken(req.url)) return no('token-in-query', 'access_token in the query string');

  const header = req.headers.authorization;
  if (header === undefined || header === '') return no('token-missing', 'no Authorization header');
  // Bound the work before matching anything: "Bearer " plus the token.
  if (header.length > maxTokenBytes + 64) return no('token-too-large', `Authorization header over ${maxTokenBytes} bytes`);
  const plain = PLAIN_BEARER.exec(header);
  // A b64token is ASCII: its length is its size in bytes.
  if (plain !== null && plain[1]!.length <= maxTokenBytes) return { ok: true, token: plain[1]! };
  const m = CREDENTIALS.exec(header);
  if (m === null) return no('token-malformed', 'Authorization header is not "scheme credentials"');
  if (m[1]!.toLowerCase() !== 'bearer') return no('token-missing', 'Authorization scheme is not Bearer');
  const token = (m[2] ?? '').trim();
  if (token === '') return no('token-malformed', 'Bearer without a token');
  if (Buffer.byteLength(token, 'latin1') > maxTokenBytes) return no('token-too-large', `token over ${maxTokenBytes} bytes`);
  if (!B64TOKEN.test(token)) return no('token-malformed', 'Bearer credentials are not one b64token');
  return { ok: true, token };
}

function hasQueryToken(url: string): boolean {
  const q = url.indexOf('?');
  if (q === -1) return false;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash === -1 ? undefined : hash);
  // Cheap pre-check: the name is `access_token`, possibly percent-encoded.
  if (!/access|%/i.test(query)) return false;
  return new URLSearchParams(query).has('access_token');
}

function no(reason: 'token-duplicate' | 'token-in-query' | 'token-missing' | 'token-too-large' | 'token-malformed', detail: string): ExtractResult {
  return { ok: false, decision: deny(401, reason, MISSING_TOKEN_MESSAGE, { detail }) };
}
