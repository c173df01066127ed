import type { Identity } from '../authenticate/identity.js';
import type { PolicyRule } from '../config/schema.js';
import { BehalfError } from '../errors.js';
import { allow, deny, type Decision } from '../pipeline/decision.js';
import type { ConditionResult } from './condition.js';
import { NO_PARAMS, splitPath, type PathParams } from './path-pattern.js';
import { LazyVariables, type PolicyInput } from './policy-input.js';
import type { ResourcePattern } from './resource-pattern.js';
import { compileRule, indexRules, type CompiledRule } from './rule-index.js';
import { conditionOutcomes, OUTCOME_FALSE, OUTCOME_TRUE } from './condition-outcomes.js';

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
  /**
   * The decision behind {@link canList}, for when the reason matters (the audit record of a
   * `completion/complete`, which is allowed for a prompt or template the user could use): allow
   * with the first allow rule that could hold, or the denial `decide` would explain (a deny rule
   * that denies for every `body` is `denied-by-rule`, or `condition-error` if it can only fail).
   */
  listDecision(input: PolicyInput): Decision;
  /** Every scope any rule mentions, in config order, without duplicates (for `scopes_supported`). */
  readonly scopes: readonly string[];
}

/** Why an allow rule that applied did not hold. */
type Shortfall = { rule: CompiledRule; scopes: boolean; roles: boolean; groups: boolean; condition: boolean; error?: string };

const FORBIDDEN = 'forbidden';

/**
 * Compiles `config.policies` once: path patterns, CEL conditions, and an index by route, tool,
 * resource and prompt (rule-index.ts) so `decide` only looks at rules that can apply. Throws
 * `BehalfError('policy-invalid')` listing every bad pattern or condition with its path
 * (`policies[2].when: ...`).
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

  const candidatesFor = indexRules(compiled);

  const listDecision = (input: PolicyInput): Decision => {
    const { deny: denyRules, allow: allowRules } = candidatesFor(input);
    const request = new RequestState(input.body == null ? input : { ...input, body: null });
    for (const rule of denyRules) {
      const bound = request.params(rule, true);
      if (bound === undefined) continue;
      if (bound === BAD_PATH) return badPath(rule);
      if (!hasAll(input.identity.scopes, rule.scopes) || !hasAny(input.identity.roles, rule.roles) || !hasAny(input.identity.groups, rule.groups)) continue;
      // Hidden when this deny rule denies (true) or fails closed (error) for every argument.
      const outcomes = request.outcomes(rule, bound);
      if ((outcomes & OUTCOME_FALSE) === 0) {
        return (outcomes & OUTCOME_TRUE) !== 0
          ? deny(403, 'denied-by-rule', FORBIDDEN, { ruleId: rule.id })
          : deny(403, 'condition-error', FORBIDDEN, { ruleId: rule.id, detail: `deny rule ${rule.id} cannot be evaluated` });
      }
    }
    let shortfalls: Shortfall[] | undefined;
    for (const rule of allowRules) {
      const bound = request.params(rule);
      if (bound === undefined) continue;
      if (bound === BAD_PATH) return badPath(rule);
      const s = shortfall(input.identity, rule);
      if (!s.roles && !s.groups) {
        if ((request.outcomes(rule, bound) & OUTCOME_TRUE) === 0) s.condition = true;
        else if (!s.scopes) return allow('allowed-by-rule', rule.id);
      }
      (shortfalls ??= []).push(s);
    }
    return explain(shortfalls ?? []);
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
    canList: (input) => listDecision(input).allow,
    listDecision,
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

  /**
   * The rule's bound path parameters when its `match` applies, undefined when it does not.
   * `covering`: for a resource template, the rule's patterns must match every URI of the template
   * (a deny rule hiding it from a list), not just some.
   */
  params(rule: CompiledRule, covering = false): PathParams | undefined | typeof BAD_PATH {
    const input = this.#input;
    if (rule.routes !== undefined && (input.route === undefined || !rule.routes.has(input.route))) return undefined;
    if (rule.tools !== undefined && (input.tool === undefined || !rule.tools.matches(input.tool))) return undefined;
    if (rule.resources !== undefined && !resourceMatches(rule.resources, input, covering)) return undefined;
    if (rule.prompts !== undefined && (input.prompt === undefined || !rule.prompts.has(input.prompt))) return undefined;
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

function resourceMatches(patterns: readonly ResourcePattern[], input: PolicyInput, covering: boolean): boolean {
  const resource = input.resource;
  if (resource === undefined) return false;
  if (input.resourceTemplate !== true) return patterns.some((p) => p.matches(resource));
  return covering ? patterns.some((p) => p.coversTemplate(resource)) : patterns.some((p) => p.couldMatchTemplate(resource));
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
