import type { IncomingHttpHeaders } from 'node:http';
import { deny, type Deny } from '../pipeline/decision.js';

/**
 * Methods whose requests have no body in HTTP (RFC 9110 §9.3: content on GET, HEAD and DELETE
 * "has no generally defined semantics", and a TRACE "MUST NOT" carry any). A body on one of them
 * is a classic desynchronisation tool: a backend or a proxy in between that ignores it reads the
 * body as the next request. Upper case, as Node gives `req.method`.
 */
const BODILESS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE', 'TRACE']);

/**
 * Refuses a request that carries a body (`Content-Length` above 0, or any `Transfer-Encoding`) on
 * a method that has none, unless `allowed` lists the method (a route's `allowBodyOn`): 400
 * `body-not-allowed`, `Connection: close` (the body is never read). Runs before authentication,
 * so such a request reaches no stage and no backend. A request without those headers costs one
 * set lookup.
 *
 * This does NOT look at the bytes: a body the framing headers do not announce does not exist for
 * Node's parser either (it would be parsed as the next request, and refused or served as such).
 */
export function bodyNotAllowed(method: string, headers: IncomingHttpHeaders, allowed?: readonly string[]): Deny | undefined {
  if (!BODILESS.has(method)) return undefined;
  const length = headers['content-length'];
  const framed = headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0' && Number(length) !== 0);
  if (!framed || allowed?.includes(method) === true) return undefined;
  return deny(400, 'body-not-allowed', 'request body not allowed', {
    detail: `${method} with a body (${length === undefined ? 'transfer-encoding' : `content-length ${length.slice(0, 20)}`})`,
    headers: { connection: 'close' },
  });
}
