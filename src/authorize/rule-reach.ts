import { compileToolMatcher, isToolPattern, toolPatternPrefix } from '../lib/tool-pattern.js';
import { compilePathPattern, splitPath, type PathPattern } from './path-pattern.js';

/**
 * What `behalf check` finds about rules that can never apply because of what they name: a tool
 * name or pattern that matches no tool the gateway can serve, and a path pattern outside every
 * route it could be about. Offline: tools are the config's and the pinned tools of upstreams
 * (the pins file); an upstream without pins cannot be checked and gets a note, not an error.
 */

/** One finding of `behalf check`: `error` fails the check, `warning` and `note` are printed. */
export interface ConfigFinding {
  readonly severity: 'error' | 'warning' | 'note';
  /** Config path of the value at fault (`policies[3].match.tools[0]`). */
  readonly path: string;
  readonly message: string;
}

/** An upstream as far as tool names go. */
export interface UpstreamTools {
  readonly id: string;
  /** Its tools' name prefix (`upstreams[].namespace`, default the id); `''`: its own names. */
  readonly namespace: string;
  /** Catalog names of its pinned tools (`hr.get_reviews`), or undefined when it has none (or pinning is off). */
  readonly pinned: readonly string[] | undefined;
}

/** Every tool name the gateway can know of offline. */
export interface ToolUniverse {
  readonly configTools: readonly string[];
  readonly upstreams: readonly UpstreamTools[];
}

/** A place in the config that names a tool or a tool pattern. */
export interface ToolReference {
  readonly path: string;
  readonly name: string;
}

/**
 * Finds each reference that matches no tool: an error naming why (no upstream has that
 * namespace; not a config tool and not a pinned tool of its upstream, with the closest name when
 * one is near), or a note when an upstream that could serve it has no pins.
 *
 * This does NOT contact upstreams: a tool an upstream added after its tools were pinned is
 * reported as missing until the gateway has listed (and pinned) it.
 */
export function toolReferenceFindings(refs: readonly ToolReference[], universe: ToolUniverse): ConfigFinding[] {
  const findings: ConfigFinding[] = [];
  const known = [...universe.configTools, ...universe.upstreams.flatMap((u) => u.pinned ?? [])];
  for (const ref of refs) {
    const matcher = compileToolMatcher([ref.name]);
    if (known.some((t) => matcher.matches(t))) continue;
    const prefix = toolPatternPrefix(ref.name);
    const pattern = isToolPattern(ref.name);
    // Upstreams whose tools the name or pattern could be: a pattern `h*` could be `hr.` tools.
    const owners = universe.upstreams.filter((u) => {
      if (u.namespace === '') return true;
      const ns = `${u.namespace}.`;
      return prefix.startsWith(ns) || (pattern && ns.startsWith(prefix));
    });
    const unpinned = owners.filter((u) => u.pinned === undefined);
    if (unpinned.length > 0) {
      const ids = unpinned.map((u) => `"${u.id}"`).join(', ');
      findings.push({ severity: 'note', path: ref.path, message: `"${ref.name}" cannot be checked offline: upstream ${ids} has no pinned tools (start the gateway once, or list them with \`behalf tools\`)` });
      continue;
    }
    const what = pattern ? `pattern "${ref.name}" matches no tool` : `"${ref.name}" is no tool`;
    const dot = prefix.indexOf('.');
    const namespace = dot > 0 ? prefix.slice(0, dot) : undefined;
    if (owners.length === 0 && namespace !== undefined && !universe.configTools.some((t) => t.startsWith(`${namespace}.`))) {
      const namespaces = universe.upstreams.filter((u) => u.namespace !== '').map((u) => u.namespace);
      const listed = namespaces.length === 0 ? 'there are no upstreams' : `upstream namespaces: ${namespaces.join(', ')}`;
      findings.push({ severity: 'error', path: ref.path, message: `${what}: no upstream "${namespace}" (${listed}) and no config tool starts with "${namespace}."` });
      continue;
    }
    const where = owners.length === 0 ? 'not a config tool' : `not a config tool nor a pinned tool of upstream ${owners.map((u) => `"${u.id}"`).join(', ')}`;
    const near = pattern ? undefined : closest(ref.name, known);
    findings.push({ severity: 'error', path: ref.path, message: `${what}: ${where}${near === undefined ? '' : `; did you mean "${near}"?`}` });
  }
  return findings;
}

/** A route as far as paths go. */
export interface RoutePrefix {
  readonly id: string;
  /** `routes[].path`. */
  readonly path: string;
  readonly caseInsensitive: boolean;
}

/** What a rule's paths are matched against. */
export interface PathRule {
  /** `policies[i]`. */
  readonly at: string;
  readonly routes: readonly string[] | undefined;
  /** True when it names tools, resources or prompts: only MCP requests, whose path is the endpoint's. */
  readonly mcpOnly: boolean;
  readonly paths: readonly string[] | undefined;
}

/**
 * Finds each `match.paths` pattern that can never match: outside the prefix of every route the
 * rule names, outside every route when it names none (and not the MCP endpoint's path), or, in
 * a rule about MCP tools, resources or prompts, not matching the MCP endpoint's path (`mcpPath`,
 * undefined when there is no MCP endpoint). A pattern that does not compile is left to the policy
 * compiler's own error.
 *
 * This does NOT know which paths a backend serves: a pattern under a route's prefix passes.
 */
export function pathFindings(rules: readonly PathRule[], routes: readonly RoutePrefix[], mcpPath: string | undefined): ConfigFinding[] {
  const findings: ConfigFinding[] = [];
  const byId = new Map(routes.map((r) => [r.id, r]));
  const mcpSegments = mcpPath === undefined ? undefined : splitPath(mcpPath);
  const onMcp = (p: PathPattern) => mcpSegments !== undefined && p.match(mcpSegments) !== undefined;
  for (const rule of rules) {
    rule.paths?.forEach((source, j) => {
      let pattern: PathPattern;
      try {
        pattern = compilePathPattern(source);
      } catch {
        return;
      }
      const path = `${rule.at}.match.paths[${j}]`;
      if (rule.mcpOnly) {
        if (!onMcp(pattern)) {
          const why = mcpPath === undefined ? 'there is no MCP endpoint' : `an MCP request's path is always the endpoint's (${mcpPath})`;
          findings.push({ severity: 'error', path, message: `"${source}" never matches: ${why}; match tools with match.tools, not paths` });
        }
        return;
      }
      const candidates = rule.routes === undefined ? routes : rule.routes.flatMap((id) => byId.get(id) ?? []);
      if (candidates.some((r) => underPrefix(pattern, r))) return;
      if (rule.routes === undefined && onMcp(pattern)) return;
      const prefixes = candidates.map((r) => `${r.id} ${r.path}`).join(', ');
      const message =
        rule.routes === undefined
          ? `"${source}" is under no route's path (${prefixes === '' ? 'there are no routes' : prefixes}), so it never matches`
          : `"${source}" is outside the path of ${candidates.length === 1 ? 'route' : 'routes'} ${prefixes}, so it never matches`;
      findings.push({ severity: 'error', path, message });
    });
  }
  return findings;
}

/** True when some path served by `route` (its prefix, or under it) could match `pattern`. */
function underPrefix(pattern: PathPattern, route: RoutePrefix): boolean {
  const prefix = splitPath(route.path);
  if (prefix === undefined) return false;
  for (let i = 0; i < prefix.length; i++) {
    const seg = pattern.segments[i];
    if (seg === undefined) return pattern.rest;
    if (seg.kind === 'literal' && seg.value !== prefix[i] && !(route.caseInsensitive && seg.value === prefix[i]!.toLowerCase())) return false;
  }
  return true;
}

/** The known name nearest to `name` when it is a likely misspelling (at most 2 edits, fewer for short names). */
function closest(name: string, known: readonly string[]): string | undefined {
  const limit = Math.min(2, Math.floor(name.length / 4));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of known) {
    if (Math.abs(k.length - name.length) > limit) continue;
    const d = editDistance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
