import type { RouteConfig } from '../config/schema.js';

/**
 * Why a path is refused before any route or policy sees it. Policy matches the path as the
 * gateway sees it, so the backend must not be able to read it differently: RFC 3986 dot
 * segments, encoded slashes, backslashes that some servers treat as `/`, an encoded `%` (a
 * backend that decodes twice reads `%252e` as `.`), `;` parameters (servlet containers drop
 * `;...` from a segment before matching), and characters outside ASCII (a backend that applies
 * NFKC reads full-width `．．` as `..` and `ｓｅｃｒｅｔ` as `secret`).
 */
export type UnsafePathReason =
  | 'dot-segment'
  | 'encoded-separator'
  | 'backslash'
  | 'control-character'
  | 'bad-encoding'
  | 'encoded-percent'
  | 'semicolon'
  | 'non-ascii';

/** What a route lets through that is refused by default (`routes[].pathRules`). */
export interface PathAllowances {
  readonly allowEncodedPercent?: boolean;
  readonly allowSemicolons?: boolean;
  readonly allowNonAscii?: boolean;
}

const ENCODED_SEPARATOR = /%(2f|5c|00)/i;
const ENCODED_PERCENT = /%25/i;
const CONTROL = /[\u0000-\u001f\u007f]/;
const NON_ASCII = /[^\u0000-\u007f]/;
const NO_ALLOWANCES: PathAllowances = {};

/**
 * Checks a request path (no query) for forms that a backend could normalise differently from the
 * gateway. Returns the reason it is unsafe, or undefined when it is safe to match and forward as
 * is. `allow` is the route's `pathRules`: an encoded `%`, `;` and non-ASCII characters are refused
 * unless the route lets them through (for a backend known not to decode twice, strip parameters
 * or normalise Unicode).
 *
 * This does NOT normalise anything (no slash merging, no case folding: a route whose backend
 * folds case sets `pathRules.caseInsensitive`, and policy then matches the lower-cased path): an
 * unsafe path is refused, never rewritten. It does NOT check the query string.
 */
export function unsafePath(path: string, allow: PathAllowances = NO_ALLOWANCES): UnsafePathReason | undefined {
  if (path.includes('\\')) return 'backslash';
  if (ENCODED_SEPARATOR.test(path)) return 'encoded-separator';
  if (allow.allowEncodedPercent !== true && ENCODED_PERCENT.test(path)) return 'encoded-percent';
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
  if (allow.allowSemicolons !== true && decoded.includes(';')) return 'semicolon';
  if (allow.allowNonAscii !== true && (NON_ASCII.test(path) || NON_ASCII.test(decoded))) return 'non-ascii';
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
