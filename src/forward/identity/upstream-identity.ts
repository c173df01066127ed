import type { UpstreamConfig } from '../../config/schema.js';

/**
 * What an upstream MCP server's assertions are bound to and how it receives them, from its
 * `identity` config. Compiled once per upstream; `prepareIdentity` does the per-request work.
 */

/** The `_meta` key that carries the assertion in the params of a request to an upstream (when `identity.meta`). */
export const ASSERTION_META_KEY = 'io.behalf/assertion';

/** The audience and request target an upstream's assertions are bound to. */
export interface UpstreamBinding {
  /** `identity.audience`, else the URL's origin (http) or `stdio:<id>`. */
  readonly audience: string;
  /** `htu`: the MCP endpoint's path and query (http), `/` for stdio. */
  readonly path: string;
}

/**
 * See {@link UpstreamBinding}. Throws a `TypeError` for an HTTP upstream whose `url` does not
 * parse (the config schema already refused it).
 */
export function upstreamBinding(cfg: UpstreamConfig): UpstreamBinding {
  if (cfg.transport === 'stdio' || cfg.url === undefined) return { audience: cfg.identity.audience ?? `stdio:${cfg.id}`, path: '/' };
  const url = new URL(cfg.url);
  return { audience: cfg.identity.audience ?? url.origin, path: url.pathname + url.search };
}

/** Where an upstream MCP server receives the identity; see {@link mcpIdentityDelivery}. */
export interface McpIdentityDelivery {
  /** Tells this delivery apart from a route's header rules in `prepareIdentity`. */
  readonly kind: 'mcp';
  /** Header name for the assertion, as configured (`identity.header`); `undefined` for stdio, which has no headers. */
  readonly header: string | undefined;
  /** Also put the assertion in `params._meta["io.behalf/assertion"]` (`identity.meta`). */
  readonly meta: boolean;
}

/**
 * The delivery of one upstream: over HTTP the assertion goes in `identity.header` (with
 * `X-Request-Id`); over stdio there are no headers, so only `_meta` can carry it.
 *
 * This does NOT warn about a stdio upstream with `identity.meta` false, which receives no
 * identity at all (`createUpstreams` logs that at start).
 */
export function mcpIdentityDelivery(cfg: UpstreamConfig): McpIdentityDelivery {
  return { kind: 'mcp', header: cfg.transport === 'http' ? cfg.identity.header : undefined, meta: cfg.identity.meta };
}
