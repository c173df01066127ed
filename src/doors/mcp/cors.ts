import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEADER } from './protocol.js';
import { originAllowed } from './receive.js';
import { headerValue } from './request-headers.js';

/**
 * CORS for the MCP endpoint, so an MCP client running in a web page of an allowed origin
 * (`mcp.allowedOrigins`, or the gateway's own public URL) can call it with its bearer token:
 *
 * - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed
 *   origin is answered 204 before the pipeline: the methods, the request headers MCP uses
 *   ({@link ALLOWED_REQUEST_HEADERS} and any `Mcp-Param-*` the page asks for), a max age. It
 *   carries no credentials and reaches nothing, so it has no audit record (like `/.well-known`);
 * - every other response to an allowed origin echoes it in `Access-Control-Allow-Origin` and
 *   exposes the headers a client must read ({@link EXPOSED_HEADERS}: the session id, the bearer
 *   challenge of a 401, the request id, the limits' `Retry-After` and RateLimit fields);
 * - every response says `Vary: Origin`, since what it allows depends on the caller's origin.
 *
 * No `Access-Control-Allow-Credentials`: the token travels in `Authorization`, set by the page's
 * code, which needs no credentials mode; cookies never authenticate anyone here.
 *
 * This does NOT let a refused origin in: its preflight and its requests go through the pipeline
 * as before and get `403 origin-not-allowed` (audited) without any `Access-Control-*` header, so
 * the page can read nothing. Nor does it authenticate: an allowed origin still needs a token.
 */

/** Request headers a page may send (lower case): the MCP transport's, and what fetch needs to speak JSON-RPC with a bearer token. */
export const ALLOWED_REQUEST_HEADERS: readonly string[] = [
  'authorization',
  'content-type',
  'accept',
  HEADER.sessionId,
  HEADER.protocolVersion,
  'last-event-id',
  HEADER.method,
  HEADER.name,
];

/** Response headers a page may read besides the CORS-safelisted ones. */
export const EXPOSED_HEADERS = 'Mcp-Session-Id, WWW-Authenticate, X-Request-Id, Retry-After, RateLimit, RateLimit-Policy';

/** How long a browser may reuse a preflight's answer, in seconds (10 min; browsers cap it lower or higher on their own). */
export const PREFLIGHT_MAX_AGE_S = 600;

/** Request header names a preflight may list before the rest are ignored (a page names a few). */
const MAX_REQUESTED_HEADERS = 64;

/** `Mcp-Param-<name>` (stateless revision): a tool argument mirrored in a header. */
const PARAM_HEADER = new RegExp(`^${HEADER.paramPrefix}[!#$%&'*+.^_\`|~0-9a-z-]{1,128}$`);

/** The request's `Origin` when a browser page sent it and it is allowed; undefined otherwise (absent, `null`, refused). */
export function corsOriginOf(req: IncomingMessage, allowed: ReadonlySet<string>): string | undefined {
  const origin = headerValue(req.headers, 'origin');
  if (origin === undefined || !originAllowed(origin, allowed)) return undefined;
  return new URL(origin).origin;
}

/** True for a CORS preflight: `OPTIONS` with `Access-Control-Request-Method`. */
export function isPreflight(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && headerValue(req.headers, 'access-control-request-method') !== undefined;
}

/** Sets the headers every response to `origin` (an allowed one) carries; `writeHead` keeps them. */
export function allowOrigin(res: ServerResponse, origin: string): void {
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
}

/**
 * Answers a preflight from an allowed `origin`: 204 with the methods `methods` and the requested
 * headers MCP defines (others are left out, and the browser then refuses the request itself).
 */
export function answerPreflight(req: IncomingMessage, res: ServerResponse, origin: string, methods: string): void {
  const requested = headerValue(req.headers, 'access-control-request-headers') ?? '';
  const granted = requested
    .split(',')
    .slice(0, MAX_REQUESTED_HEADERS)
    .map((h) => h.trim().toLowerCase())
    .filter((h) => ALLOWED_REQUEST_HEADERS.includes(h) || PARAM_HEADER.test(h));
  res.writeHead(204, {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': methods,
    'access-control-allow-headers': [...new Set([...ALLOWED_REQUEST_HEADERS, ...granted])].join(', '),
    'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    'cache-control': 'no-store',
  });
  res.end();
}
