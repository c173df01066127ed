import type { Config, McpConfig } from '../../config/schema.js';
import { bodyNotAllowed } from '../../lib/bodiless-methods.js';
import { deny, type Deny } from '../../pipeline/decision.js';
import { servesStream } from './capabilities.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { headerValue } from './request-headers.js';

/**
 * receive (MCP): what the endpoint checks before anything is authenticated or read, because
 * it needs neither: the HTTP method and the `Origin` header.
 */

/** The origins allowed to call the endpoint: the public URL's own and `mcp.allowedOrigins`, normalised. */
export function allowedOriginsOf(config: Config, mcp: McpConfig): ReadonlySet<string> {
  return new Set([config.server.publicUrl, ...mcp.allowedOrigins].map((u) => new URL(u).origin));
}

/**
 * True when `origin` may call: absent (not a browser, or a same-origin navigation that sends
 * none), or exactly one of `allowed` once normalised (scheme, host and port; case and default
 * ports as the URL parser folds them). `null` (sandboxed frames, file pages) and anything that
 * does not parse are refused.
 *
 * This does NOT authenticate anyone: `Origin` only tells a browser page apart from a server
 * client, which is what stops DNS-rebinding pages from reaching a local gateway.
 */
export function originAllowed(origin: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (origin === undefined) return true;
  try {
    const parsed = new URL(origin);
    return parsed.origin !== 'null' && allowed.has(parsed.origin);
  } catch {
    return false;
  }
}

/**
 * Refuses what no later stage should see: a method other than POST, DELETE and GET (405), GET
 * too when there is nothing to push on a session's stream (no upstream MCP server is served), a
 * browser `Origin` that is not allowed (403, before authentication: a rebinding page must learn
 * nothing), and a GET or DELETE that carries a body (400 `body-not-allowed`: neither has one in MCP).
 */
export function receiveMcp(ctx: McpContext, deps: McpDeps): Deny | undefined {
  if (!originAllowed(headerValue(ctx.req.headers, 'origin'), deps.allowedOrigins)) {
    return deny(403, 'origin-not-allowed', 'Forbidden: origin not allowed', { detail: 'Origin header not allowed' });
  }
  if (ctx.method === 'POST') return undefined;
  if (ctx.method === 'DELETE') return bodyNotAllowed(ctx.method, ctx.req.headers);
  const stream = servesStream(deps);
  if (ctx.method === 'GET' && stream) return bodyNotAllowed(ctx.method, ctx.req.headers);
  return deny(405, 'method-not-allowed', 'Method not allowed', { headers: { allow: stream ? 'GET, POST, DELETE' : 'POST, DELETE' }, detail: `HTTP ${ctx.method.slice(0, 16)}` });
}
