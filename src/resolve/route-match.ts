import type { RouteConfig } from '../config/schema.js';

/**
 * Why a path is refused before any route or policy sees it. Policy matches the path as the
 * gateway sees it, so the backend must not be able to read it differently (RFC 3986 dot segments,
 * encoded slashes, backslashes that some servers treat as `/`).
 */
export type UnsafePathReason = 'dot-segment' | 'encoded-separator' | 'backslash' | 'control-character' | 'bad-encoding';

const ENCODED_SEPARATOR = /%(2f|5c|00)/i;
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Checks a request path (no query) for forms that a backend could normalise differently from the
 * gateway. Returns the reason it is unsafe, or undefined when it is safe to match and forward as is.
 *
 * This does NOT normalise anything (no slash merging, no case folding): an unsafe path is refused,
 * never rewritten. It does NOT check the query string.
 */
export function unsafePath(path: string): UnsafePathReason | undefined {
  if (path.includes('\\')) return 'backslash';
  if (ENCODED_SEPARATOR.test(path)) return 'encoded-separator';
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return 'bad-encoding';
  }
  if (CONTROL.test(decoded)) return 'control-character';
  for (const segment of decoded.split('/')) {
    // `..;x` too: servlet containers strip `;...` from a segment before resolving it.
    const semi = segment.indexOf(';');
    const name = semi === -1 ? segment : segment.slice(0, semi);
    if (name === '.' || name === '..') return 'dot-segment';
  }
  return undefined;
}

/** A compiled route table: longest path prefix wins; `/api/hr` matches `/api/hr` and `/api/hr/...`. */
export interface RouteTable {
  /** The route whose prefix matches `path`, ignoring method. */
  match(path: string): RouteConfig | undefined;
}

export function compileRoutes(routes: readonly RouteConfig[]): RouteTable {
  const byLength = [...routes]
    .map((route) => ({ route, prefix: route.path.endsWith('/') && route.path.length > 1 ? route.path.slice(0, -1) : route.path }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  return {
    match(path) {
      for (const { route, prefix } of byLength) {
        if (prefix === '/' || path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* / */)) return route;
      }
      return undefined;
    },
  };
}

/** `true` when the route accepts `method` (HEAD is accepted wherever GET is). */
export function routeAllowsMethod(route: RouteConfig, method: string): boolean {
  const methods: readonly string[] | undefined = route.methods;
  if (methods === undefined) return true;
  return methods.includes(method) || (method === 'HEAD' && methods.includes('GET'));
}
