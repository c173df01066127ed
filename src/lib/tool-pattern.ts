/**
 * Tool-name patterns, wherever the config names tools (`policies[].match.tools`,
 * `limits.rules[].match.tools`, `upstreams[].readOnlyTools`):
 *
 * | pattern | matches |
 * |---|---|
 * | `hr.get_reviews` | that tool only |
 * | `hr.*` | every tool of the upstream whose namespace is `hr` (`hr.get_reviews`, `hr.admin.reset`) |
 * | `hr.get_*` | every tool whose name starts with `hr.get_` |
 * | `*` | every tool |
 *
 * A `*` may only be the last character (the config schema refuses it elsewhere) and stands for
 * any characters, `.` included, possibly none. Tool names never hold `*` (the config's and the upstreams' names are `A-Za-z0-9_.-`), so
 * a pattern never means a name by accident. Compiled once into a set of exact names and a list of
 * prefixes: no regular expression is built, and an exact name costs one `Set.has`.
 */

/** True when `pattern` ends in `*` (matches more than one name). */
export function isToolPattern(pattern: string): boolean {
  return pattern.endsWith('*');
}

/** The prefix a pattern stands for (`hr.*` -> `hr.`), or the name itself. */
export function toolPatternPrefix(pattern: string): string {
  return isToolPattern(pattern) ? pattern.slice(0, -1) : pattern;
}

/** A compiled list of tool names and patterns. */
export interface ToolMatcher {
  /** The names and patterns as written. */
  readonly sources: readonly string[];
  /** The exact names (no `*`). */
  readonly exact: ReadonlySet<string>;
  /** The prefixes of the patterns (`hr.*` -> `hr.`; `*` -> `""`). */
  readonly prefixes: readonly string[];
  /** True when `tool` is one of the names or starts with one of the prefixes. */
  matches(tool: string): boolean;
}

/**
 * Compiles names and patterns (the config schema's `toolPattern` has refused a `*` anywhere but
 * at the end). A list without any `*` matches exactly as a `Set` of its names does.
 *
 * This does NOT fold case or check that the tools exist (`behalf check` does, offline).
 */
export function compileToolMatcher(sources: readonly string[]): ToolMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const s of sources) {
    if (isToolPattern(s)) prefixes.push(s.slice(0, -1));
    else exact.add(s);
  }
  const count = prefixes.length;
  return {
    sources,
    exact,
    prefixes,
    matches(tool) {
      if (exact.has(tool)) return true;
      for (let i = 0; i < count; i++) if (tool.startsWith(prefixes[i]!)) return true;
      return false;
    },
  };
}

/**
 * True when every name `inner` matches is matched by `outer` too: an exact name by a name or
 * prefix of `outer`, a prefix by a shorter-or-equal prefix of `outer`. Used to find shadowed rules.
 */
export function toolMatcherCovers(outer: ToolMatcher, inner: ToolMatcher): boolean {
  for (const name of inner.exact) if (!outer.matches(name)) return false;
  for (const prefix of inner.prefixes) if (!outer.prefixes.some((p) => prefix.startsWith(p))) return false;
  return true;
}
