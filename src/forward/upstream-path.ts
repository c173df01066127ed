import type { RouteConfig } from '../config/schema.js';

/** Upstream base path and query per upstream URL; routes are few and fixed at start-up. */
const bases = new Map<string, { path: string; query: string }>();

function baseOf(upstream: string): { path: string; query: string } {
  let base = bases.get(upstream);
  if (base === undefined) {
    const u = new URL(upstream);
    base = { path: u.pathname.replace(/\/+$/, ''), query: u.search.slice(1) };
    bases.set(upstream, base);
  }
  return base;
}

/** A segment a backend could resolve as "this" or "parent" directory, or split into several. */
function isUnsafeSegment(segment: string): boolean {
  if (segment.includes('\\')) return true;
  if (segment.includes('%') && /%2f|%5c|%00/i.test(segment)) return true;
  return isDotSegment(segment.replace(/%2e/gi, '.'));
}

/**
 * `.` or `..`, also with path parameters (`..;x`): servlet containers (Tomcat, Jetty) strip
 * `;...` from a segment before resolving it, so `/a/..;/b` reaches `/b` there.
 */
function isDotSegment(segment: string): boolean {
  const semi = segment.indexOf(';');
  const name = semi === -1 ? segment : segment.slice(0, semi);
  return name === '.' || name === '..';
}

/**
 * The upstream request target for a gateway request: the route's upstream base path joined with
 * what follows the route prefix, then the query. With `path: /api/hr` and
 * `upstream: http://hr:8080/v1`, `/api/hr/reviews/bob` + `?year=2024` gives
 * `/v1/reviews/bob?year=2024`; `/api/hr` alone gives `/v1` (`/` when both are empty). A query on
 * the upstream URL itself comes first. `search` is `''` or starts with `?` (as in `URL.search`).
 * The result is what the signed assertion binds (`htu`) and what goes on the request line.
 *
 * Returns `undefined` (the caller answers 400) when `gatewayPath` is not under the route prefix,
 * or holds a dot segment (`.`, `..`, also as `%2e`), an encoded slash or backslash (`%2f`,
 * `%5c`), a raw backslash or `%00`: a backend that decodes or normalises those could be led
 * outside the route's upstream path.
 *
 * This does NOT decode or re-encode anything else: the path goes upstream byte for byte, so the
 * backend's view of it equals the gateway's (and the assertion's). It does NOT check the query.
 */
export function joinUpstreamPath(route: Pick<RouteConfig, 'path' | 'upstream'>, gatewayPath: string, search: string): string | undefined {
  const prefix = route.path.replace(/\/+$/, '');
  // `''` only under the root prefix: a config tool's `call.path: ""` (the base path itself).
  if (!gatewayPath.startsWith('/') && gatewayPath !== prefix) return undefined;
  if (gatewayPath !== prefix && !gatewayPath.startsWith(prefix + '/')) return undefined;
  const rest = gatewayPath.slice(prefix.length);
  if (rest.split('/').some(isUnsafeSegment)) return undefined;
  const base = baseOf(route.upstream);
  const path = base.path + rest || '/';
  const own = search.startsWith('?') ? search.slice(1) : search;
  const query = base.query !== '' && own !== '' ? `${base.query}&${own}` : base.query || own;
  return query === '' ? path : `${path}?${query}`;
}
