/**
 * Path patterns for `match.paths`: `/api/hr/reviews/:employee`, `/api/hr/*`. Compiled once at load
 * into a list of segment tests; no regular expression is ever built from configuration or request
 * text, so a pattern cannot be a ReDoS and matching is linear in the number of segments.
 */

/** Parameters bound by a matching pattern (`:employee` -> `bob`), percent-decoded. */
export type PathParams = ReadonlyMap<string, string>;

/** The parameters of a pattern without `:name` segments: shared, never mutated. */
export const NO_PARAMS: PathParams = new Map();

/** A compiled pattern. */
export interface PathPattern {
  /** The pattern as written in the config. */
  readonly source: string;
  /** Its segments before a final `*`, decoded (for `behalf check`'s analyses, rule-reach.ts). */
  readonly segments: readonly PatternSegment[];
  /** True when it ends in `*` (matches zero or more further segments). */
  readonly rest: boolean;
  /** The bound parameters when `segments` match, else undefined. */
  match(segments: readonly string[]): PathParams | undefined;
}

/** A literal segment (decoded), or a `:name` parameter. */
export type PatternSegment = { readonly kind: 'literal'; readonly value: string } | { readonly kind: 'param'; readonly name: string };

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Compiles one pattern. Segments: `:name` matches exactly one non-empty segment and binds it;
 * `*`, only as the whole last segment, matches zero or more remaining segments; anything else is
 * a literal, compared after percent-decoding on both sides (`caf%C3%A9` and `café` are equal).
 * Empty segments are ignored (`/a//b/` is `/a/b`), the same as `splitPath` does for requests.
 * Throws an Error whose message says what is wrong; the caller adds the config path.
 *
 * This does NOT fold case: `/API/hr` does not match `/api/hr`. If a backend treats paths
 * case-insensitively, write deny rules for it with that in mind.
 */
export function compilePathPattern(pattern: string): PathPattern {
  if (!pattern.startsWith('/')) throw new Error('must start with "/"');
  if (/[?#]/.test(pattern)) throw new Error('must not hold a query or fragment');
  const raw = pattern.split('/').filter((s) => s !== '');
  const rest = raw[raw.length - 1] === '*';
  const fixed = rest ? raw.slice(0, -1) : raw;
  const names = new Set<string>();
  const segments: PatternSegment[] = fixed.map((s) => {
    if (s === '*') throw new Error('"*" must be the last segment');
    if (s.includes('*')) throw new Error(`"*" must be a whole segment, not part of "${s}"`);
    if (s.startsWith(':')) {
      const name = s.slice(1);
      if (!PARAM_NAME.test(name)) throw new Error(`"${s}": a parameter name is a letter or "_" then letters, digits or "_"`);
      if (names.has(name)) throw new Error(`parameter ":${name}" appears twice`);
      names.add(name);
      return { kind: 'param', name };
    }
    const value = decodeSegment(s);
    if (value === undefined) throw new Error(`"${s}": invalid percent-encoding`);
    return { kind: 'literal', value };
  });
  const count = segments.length;

  return {
    source: pattern,
    segments,
    rest,
    match(path) {
      if (rest ? path.length < count : path.length !== count) return undefined;
      let params: Map<string, string> | undefined;
      for (let i = 0; i < count; i++) {
        const seg = segments[i]!;
        const actual = path[i]!;
        if (seg.kind === 'literal') {
          if (seg.value !== actual) return undefined;
        } else {
          (params ??= new Map()).set(seg.name, actual);
        }
      }
      return params ?? NO_PARAMS;
    },
  };
}

/**
 * Splits a request path (no query) into its percent-decoded, non-empty segments. Returns undefined
 * for a path no backend should be trusted to read the same way: bad percent-encoding, or a decoded
 * segment that is `.`/`..` or holds `/`, `\` or a control character. The caller denies those.
 *
 * This does NOT replace the resolve stage's own path checks; it repeats the ones that matter to
 * matching so that policy is safe even when called on its own (e.g. by `behalf policy test`).
 */
export function splitPath(path: string): string[] | undefined {
  // Most paths have nothing to decode: one scan of the whole string decides that.
  const plain = !NEEDS_CARE.test(path);
  const out: string[] = [];
  for (const s of path.split('/')) {
    if (s === '') continue;
    const value = plain ? s : decodeSegment(s);
    if (value === undefined || value === '.' || value === '..' || (!plain && UNSAFE_DECODED.test(value))) return undefined;
    out.push(value);
  }
  return out;
}

const NEEDS_CARE = /[%\\\u0000-\u001f\u007f]/;
const UNSAFE_DECODED = /[/\\\u0000-\u001f\u007f]/;

function decodeSegment(s: string): string | undefined {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
