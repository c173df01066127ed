import type { PolicyRule } from '../config/schema.js';
import { compileCondition, type CompiledCondition } from './condition.js';
import { compilePathPattern, type PathPattern } from './path-pattern.js';
import type { PolicyInput } from './policy-input.js';
import { compileResourcePattern, type ResourcePattern } from './resource-pattern.js';
import { compileToolMatcher, type ToolMatcher } from '../lib/tool-pattern.js';

/**
 * Policy rules compiled once at load (patterns, CEL conditions), and the index that gives a
 * request only the rules that can apply to its route, tool, resource or prompt.
 */

/** One rule of `policies`, compiled. */
export interface CompiledRule {
  readonly id: string;
  readonly index: number;
  readonly effect: 'allow' | 'deny';
  readonly routes: ReadonlySet<string> | undefined;
  /** Tool names and patterns (`hr.*`), lib/tool-pattern.ts. */
  readonly tools: ToolMatcher | undefined;
  readonly resources: readonly ResourcePattern[] | undefined;
  readonly prompts: ReadonlySet<string> | undefined;
  readonly methods: ReadonlySet<string> | undefined;
  readonly paths: readonly PathPattern[] | undefined;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly condition: CompiledCondition | undefined;
}

/** The rules that can apply to one request, split by effect, each in config order. */
export interface Candidates {
  readonly deny: readonly CompiledRule[];
  readonly allow: readonly CompiledRule[];
}

/** Tool names without a list of their own that are remembered (see `indexRules`); past it, each is worked out per request. */
const MAX_PATTERN_TOOLS = 4_096;

/**
 * The index over `compiled`: a function giving each request its candidate rules. A request only
 * looks at rules that can apply to its route, tool, resource or prompt; `params()` in policy.ts
 * still checks every match field, so the index can only save work, never change a decision.
 *
 * Tools: every exact name a rule gives has its list, built here, holding the rules whose names
 * or patterns match it (one `Map.get` per request). A name no rule gives exactly gets the
 * unrestricted rules, plus, when some rule has a pattern (`hr.*`), the rules whose patterns match
 * it: worked out on first sight and remembered (names come from the tool catalog, so they are
 * few; at most {@link MAX_PATTERN_TOOLS} are kept).
 */
export function indexRules(compiled: readonly CompiledRule[]): (input: PolicyInput) => Candidates {
  const split = (list: readonly CompiledRule[]): Candidates => ({
    deny: list.filter((r) => r.effect === 'deny'),
    allow: list.filter((r) => r.effect === 'allow'),
  });
  // Unrestricted rules are in every list; a route rule only under its routes; a tools-only rule
  // only under its tools; resource and prompt rules only for resources and prompts (the schema
  // refuses them combined with another kind).
  const unrestricted = (r: CompiledRule) => r.routes === undefined && r.tools === undefined && r.resources === undefined && r.prompts === undefined;
  const generic = compiled.filter(unrestricted);
  const byRoute = new Map<string, Candidates>();
  const byTool = new Map<string, Candidates>();
  const byPrompt = new Map<string, Candidates>();
  for (const routeId of new Set(compiled.flatMap((r) => [...(r.routes ?? [])]))) {
    byRoute.set(routeId, split(compiled.filter((r) => (r.routes === undefined ? unrestricted(r) : r.routes.has(routeId)))));
  }
  const forTool = (tool: string) => split(compiled.filter((r) => r.routes === undefined && (r.tools === undefined ? unrestricted(r) : r.tools.matches(tool))));
  for (const tool of new Set(compiled.flatMap((r) => (r.routes === undefined ? [...(r.tools?.exact ?? [])] : [])))) byTool.set(tool, forTool(tool));
  const exactTools = byTool.size;
  const patterns = compiled.some((r) => r.routes === undefined && r.tools !== undefined && r.tools.prefixes.length > 0);
  const toolCandidates = (tool: string): Candidates => {
    const known = byTool.get(tool);
    if (known !== undefined || !patterns) return known ?? genericCandidates;
    const found = forTool(tool);
    if (byTool.size < exactTools + MAX_PATTERN_TOOLS) byTool.set(tool, found);
    return found;
  };
  for (const prompt of new Set(compiled.flatMap((r) => [...(r.prompts ?? [])]))) {
    byPrompt.set(prompt, split(compiled.filter((r) => (r.prompts === undefined ? unrestricted(r) : r.prompts.has(prompt)))));
  }
  const genericCandidates = split(generic);
  const resourceCandidates = split(compiled.filter((r) => r.resources !== undefined || unrestricted(r)));

  return (input: PolicyInput): Candidates => {
    if (input.resource !== undefined) return resourceCandidates;
    if (input.prompt !== undefined) return byPrompt.get(input.prompt) ?? genericCandidates;
    const forRoute = input.route === undefined ? undefined : (byRoute.get(input.route) ?? genericCandidates);
    const toolRules = input.tool === undefined ? undefined : toolCandidates(input.tool);
    if (forRoute !== undefined && toolRules !== undefined) {
      const union = (a: readonly CompiledRule[], b: readonly CompiledRule[]) => [...new Set([...a, ...b])].sort((x, y) => x.index - y.index);
      return { deny: union(forRoute.deny, toolRules.deny), allow: union(forRoute.allow, toolRules.allow) };
    }
    return forRoute ?? toolRules ?? genericCandidates;
  };
}

/** Compiles one rule; a bad path pattern or condition is added to `problems` with its config path. */
export function compileRule(rule: PolicyRule, index: number, problems: string[]): CompiledRule {
  const at = `policies[${index}]`;
  let paths: PathPattern[] | undefined;
  if (rule.match.paths !== undefined) {
    paths = [];
    rule.match.paths.forEach((p, j) => {
      try {
        paths!.push(compilePathPattern(p));
      } catch (err) {
        problems.push(`${at}.match.paths[${j}]: ${(err as Error).message}`);
      }
    });
  }
  let condition: CompiledCondition | undefined;
  if (rule.when !== undefined) {
    try {
      condition = compileCondition(rule.when);
    } catch (err) {
      problems.push(`${at}.when: ${(err as Error).message}`);
    }
  }
  const methods = rule.match.methods?.map((m) => m.toUpperCase());
  // HEAD reads what GET reads: a rule about GET covers HEAD, the same as route matching does.
  if (methods?.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
  return {
    id: rule.id,
    index,
    effect: rule.effect,
    routes: rule.match.routes === undefined ? undefined : new Set(rule.match.routes),
    tools: rule.match.tools === undefined ? undefined : compileToolMatcher(rule.match.tools),
    resources: rule.match.resources?.map(compileResourcePattern),
    prompts: rule.match.prompts === undefined ? undefined : new Set(rule.match.prompts),
    methods: methods === undefined ? undefined : new Set(methods),
    paths,
    scopes: rule.scopes,
    roles: rule.roles,
    groups: rule.groups,
    condition,
  };
}
