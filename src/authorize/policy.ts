import type { Identity } from '../authenticate/identity.js';
import type { PolicyRule } from '../config/schema.js';
import { BehalfError } from '../errors.js';
import { allow, deny, type Decision } from '../pipeline/decision.js';
import { compileCondition, type CompiledCondition, type ConditionResult } from './condition.js';
import { compilePathPattern, NO_PARAMS, splitPath, type PathParams, type PathPattern } from './path-pattern.js';
import { LazyVariables, type PolicyInput } from './policy-input.js';
import { conditionOutcomes, OUTCOME_FALSE, OUTCOME_TRUE } from './tool-listing.js';

export type { PolicyInput } from './policy-input.js';

/** The compiled policy. Immutable; build a new one to change rules. */
export interface Policy {
  /** Decides one request. Never throws for any input; a condition error is a denial. */
  decide(input: PolicyInput): Decision;
  /**
   * Whether `tools/list` shows `input.tool` to this user: true iff some call to it could be
   * allowed. The same rules as `decide`, evaluated without arguments (`input.body` is ignored):
   * a condition that depends on `body` counts as possibly true for an allow rule and as
   * possibly false for a deny rule (see `authorize/tool-listing.ts`); scopes, roles and groups
   * apply as for a call, so a tool whose only allowing rules need a scope the token lacks is
   * not listed. Never throws.
   */
  canList(input: PolicyInput): boolean;
  /** Every scope any rule mentions, in config order, without duplicates (for `scopes_supported`). */
  readonly scopes: readonly string[];
}

interface CompiledRule {
  readonly id: string;
  readonly index: number;
  readonly effect: 'allow' | 'deny';
  readonly routes: ReadonlySet<string> | undefined;
  readonly tools: ReadonlySet<string> | undefined;
  readonly methods: ReadonlySet<string> | undefined;
  readonly paths: readonly PathPattern[] | undefined;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly condition: CompiledCondition | undefined;
}

/** The rules that can apply to one route or tool, split by effect, each in config order. */
interface Candidates {
  readonly deny: readonly CompiledRule[];
  readonly allow: readonly CompiledRule[];
}

/** Why an allow rule that applied did not hold. */
type Shortfall = { rule: CompiledRule; scopes: boolean; roles: boolean; groups: boolean; condition: boolean; error?: string };

const FORBIDDEN = 'forbidden';

/**
 * Compiles `config.policies` once: path patterns, CEL conditions, and an index by route and tool
 * so `decide` only looks at rules that can apply. Throws `BehalfError('policy-invalid')` listing
 * every bad pattern or condition with its path (`policies[2].when: ...`).
 *
 * Semantics (docs/policy.md): deny by default. A rule applies when every `match` field it sets
 * matches. It holds when the token has ALL its `scopes`, the user has ANY of its `roles` (if it
 * lists any) and ANY of its `groups` (if it lists any), and its `when` is true. Any holding deny
 * rule denies, before allow rules are looked at; a deny rule whose condition errors denies too
 * (fail closed). Otherwise the first holding allow rule in config order allows. Otherwise the
 * denial says what was missing: scopes (only when they were all that was missing, so a step-up
 * can help), a role, a group, or nothing applied.
 *
 * This does NOT check the route, method or issuer themselves (resolve does), does NOT decode
 * or trust anything the client says about who it is (only `input.identity`, which authenticate
 * built from a verified token), and does NOT look up the directory: `input.user` must be joined
 * by the caller, and an absent entry means no manager, reports or team.
 */
export function compilePolicy(rules: readonly PolicyRule[]): Policy {
  const problems: string[] = [];
  const compiled: CompiledRule[] = rules.map((rule, index) => compileRule(rule, index, problems));
  if (problems.length > 0) throw new BehalfError('policy-invalid', problems.join('\n'));

  const split = (list: readonly CompiledRule[]): Candidates => ({
    deny: list.filter((r) => r.effect === 'deny'),
    allow: list.filter((r) => r.effect === 'allow'),
  });
  // An index, not a filter: a request only looks at rules that can apply to its route or tool.
  // Unrestricted rules are in every list; a route rule only under its routes; a tools-only rule
  // only under its tools. `params()` still checks every match field, so the index can only
  // save work, never change a decision.
  const generic = compiled.filter((r) => r.routes === undefined && r.tools === undefined);
  const byRoute = new Map<string, Candidates>();
  const byTool = new Map<string, Candidates>();
  for (const routeId of new Set(compiled.flatMap((r) => [...(r.routes ?? [])]))) {
    byRoute.set(routeId, split(compiled.filter((r) => (r.routes === undefined ? r.tools === undefined : r.routes.has(routeId)))));
  }
  for (const tool of new Set(compiled.flatMap((r) => (r.routes === undefined ? [...(r.tools ?? [])] : [])))) {
    byTool.set(tool, split(compiled.filter((r) => r.routes === undefined && (r.tools === undefined || r.tools.has(tool)))));
  }
  const genericCandidates = split(generic);

  const candidatesFor = (input: PolicyInput): Candidates => {
    const forRoute = input.route === undefined ? undefined : (byRoute.get(input.route) ?? genericCandidates);
    const forTool = input.tool === undefined ? undefined : (byTool.get(input.tool) ?? genericCandidates);
    if (forRoute !== undefined && forTool !== undefined) {
      const union = (a: readonly CompiledRule[], b: readonly CompiledRule[]) => [...new Set([...a, ...b])].sort((x, y) => x.index - y.index);
      return { deny: union(forRoute.deny, forTool.deny), allow: union(forRoute.allow, forTool.allow) };
    }
    return forRoute ?? forTool ?? genericCandidates;
  };

  const scopes = [...new Set(rules.flatMap((r) => r.scopes))];

  return {
    scopes,
    decide(input) {
      const { deny: denyRules, allow: allowRules } = candidatesFor(input);
      const request = new RequestState(input);

      for (const rule of denyRules) {
        const bound = request.params(rule);
        if (bound === undefined) continue;
        if (bound === BAD_PATH) return badPath(rule);
        if (!hasAll(input.identity.scopes, rule.scopes) || !hasAny(input.identity.roles, rule.roles) || !hasAny(input.identity.groups, rule.groups)) continue;
        const result = request.condition(rule, bound);
        if (!result.ok) return deny(403, 'condition-error', FORBIDDEN, { ruleId: rule.id, detail: `deny rule ${rule.id}: ${result.error}` });
        if (result.value) return deny(403, 'denied-by-rule', FORBIDDEN, { ruleId: rule.id });
      }

      let shortfalls: Shortfall[] | undefined;
      for (const rule of allowRules) {
        const bound = request.params(rule);
        if (bound === undefined) continue;
        if (bound === BAD_PATH) return badPath(rule);
        const s = shortfall(input.identity, rule);
        if (!s.roles && !s.groups) {
          const result = request.condition(rule, bound);
          if (!result.ok) s.error = result.error;
          else if (!result.value) s.condition = true;
          else if (!s.scopes) return allow('allowed-by-rule', rule.id);
        }
        (shortfalls ??= []).push(s);
      }
      return explain(shortfalls ?? []);
    },
    canList(input) {
      const { deny: denyRules, allow: allowRules } = candidatesFor(input);
      const request = new RequestState(input.body == null ? input : { ...input, body: null });
      for (const rule of denyRules) {
        const bound = request.params(rule);
        if (bound === undefined) continue;
        if (bound === BAD_PATH) return false;
        if (!hasAll(input.identity.scopes, rule.scopes) || !hasAny(input.identity.roles, rule.roles) || !hasAny(input.identity.groups, rule.groups)) continue;
        // Hidden when this deny rule denies (true) or fails closed (error) for every argument.
        if ((request.outcomes(rule, bound) & OUTCOME_FALSE) === 0) return false;
      }
      for (const rule of allowRules) {
        const bound = request.params(rule);
        if (bound === undefined) continue;
        if (bound === BAD_PATH) return false;
        const s = shortfall(input.identity, rule);
        if (s.scopes || s.roles || s.groups) continue;
        if ((request.outcomes(rule, bound) & OUTCOME_TRUE) !== 0) return true;
      }
      return false;
    },
  };
}

const BAD_PATH = Symbol('bad-path');

/** What one `decide` call works out at most once: the upper-cased method, the path segments, the CEL variables. */
class RequestState {
  readonly #input: PolicyInput;
  readonly #method: string;
  #segments: string[] | undefined | null = null; // null: not split yet
  #vars: LazyVariables | undefined;

  constructor(input: PolicyInput) {
    this.#input = input;
    this.#method = input.method.toUpperCase();
  }

  /** The rule's bound path parameters when its `match` applies, undefined when it does not. */
  params(rule: CompiledRule): PathParams | undefined | typeof BAD_PATH {
    const input = this.#input;
    if (rule.routes !== undefined && (input.route === undefined || !rule.routes.has(input.route))) return undefined;
    if (rule.tools !== undefined && (input.tool === undefined || !rule.tools.has(input.tool))) return undefined;
    if (rule.methods !== undefined && !rule.methods.has(this.#method)) return undefined;
    if (rule.paths === undefined) return NO_PARAMS;
    if (this.#segments === null) this.#segments = splitPath(input.path);
    if (this.#segments === undefined) return BAD_PATH;
    for (const p of rule.paths) {
      const bound = p.match(this.#segments);
      if (bound !== undefined) return bound;
    }
    return undefined;
  }

  condition(rule: CompiledRule, bound: PathParams): ConditionResult {
    if (rule.condition === undefined) return HOLDS;
    this.#vars ??= new LazyVariables(this.#input, this.#method);
    return rule.condition.evaluate(this.#vars.with(bound));
  }

  /** The outcomes the rule's condition could have for any `body` (a bit set, see `conditionOutcomes`). */
  outcomes(rule: CompiledRule, bound: PathParams): number {
    if (rule.condition === undefined) return OUTCOME_TRUE;
    this.#vars ??= new LazyVariables(this.#input, this.#method);
    return conditionOutcomes(rule.condition, this.#vars.with(bound));
  }
}

const HOLDS: ConditionResult = { ok: true, value: true };

function compileRule(rule: PolicyRule, index: number, problems: string[]): CompiledRule {
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
    tools: rule.match.tools === undefined ? undefined : new Set(rule.match.tools),
    methods: methods === undefined ? undefined : new Set(methods),
    paths,
    scopes: rule.scopes,
    roles: rule.roles,
    groups: rule.groups,
    condition,
  };
}

function shortfall(identity: Identity, rule: CompiledRule): Shortfall {
  return {
    rule,
    scopes: !hasAll(identity.scopes, rule.scopes),
    roles: !hasAny(identity.roles, rule.roles),
    groups: !hasAny(identity.groups, rule.groups),
    condition: false,
  };
}

/** The denial for when no allow rule held, naming the most useful thing that was missing. */
function explain(shortfalls: readonly Shortfall[]): Decision {
  const scopeOnly = shortfalls.find((s) => s.scopes && !s.roles && !s.groups && !s.condition && s.error === undefined);
  if (scopeOnly !== undefined) {
    return deny(403, 'insufficient-scope', 'insufficient scope', { ruleId: scopeOnly.rule.id, requiredScopes: scopeOnly.rule.scopes });
  }
  const role = shortfalls.find((s) => s.roles);
  if (role !== undefined) return deny(403, 'missing-role', FORBIDDEN, { ruleId: role.rule.id });
  const group = shortfalls.find((s) => s.groups);
  if (group !== undefined) return deny(403, 'missing-group', FORBIDDEN, { ruleId: group.rule.id });
  const errored = shortfalls.find((s) => s.error !== undefined);
  const detail =
    shortfalls.length === 0
      ? 'no rule applies'
      : `${shortfalls.length} rule(s) applied, none held${errored === undefined ? '' : `; allow rule ${errored.rule.id}: ${errored.error}`}`;
  return deny(403, 'no-matching-rule', FORBIDDEN, { detail });
}

function badPath(rule: CompiledRule): Decision {
  return deny(400, 'bad-request', 'malformed request path', { detail: `path cannot be matched safely (rule ${rule.id})` });
}

function hasAll(have: readonly string[], need: readonly string[]): boolean {
  for (const n of need) if (!have.includes(n)) return false;
  return true;
}

function hasAny(have: readonly string[], anyOf: readonly string[]): boolean {
  if (anyOf.length === 0) return true;
  for (const n of anyOf) if (have.includes(n)) return true;
  return false;
}
