import { toolMatcherCovers } from '../lib/tool-pattern.js';
import type { PolicyRule } from '../config/schema.js';
import type { PathPattern } from './path-pattern.js';
import type { ConfigFinding } from './rule-reach.js';
import { compileRule, type CompiledRule } from './rule-index.js';

/**
 * Allow rules that can never allow anything: deny rules are looked at before every allow rule,
 * whatever their order in the file, so a deny rule with no condition that applies to every
 * request an allow rule applies to, for every user that allow rule could allow, leaves it dead.
 */

/**
 * One warning per allow rule shadowed by a deny rule, naming the first such deny rule. Only
 * certain shadowing is reported: the deny rule has no `when`; each `match` field it sets is set
 * by the allow rule too, and covers it (routes, prompts a subset; tools by name or a shorter
 * pattern; methods a subset; each path pattern of the allow rule matched by one of the deny
 * rule's for every path; resource patterns the same text or `*`); its scopes are among the allow
 * rule's; its roles (groups) are absent, or the allow rule lists roles (groups) all among them.
 * `rules` may have holes (rules that did not validate); a rule whose patterns or condition do
 * not compile is left out too (the policy compiler reports it).
 *
 * This does NOT report an allow rule that a combination of deny rules shadows, nor one whose
 * own condition can never be true, nor an allow rule after another that allows the same (the
 * decision is the same, only its rule id differs).
 */
export function shadowedRuleFindings(rules: readonly (PolicyRule | undefined)[]): ConfigFinding[] {
  const compiled: CompiledRule[] = [];
  rules.forEach((rule, index) => {
    if (rule === undefined) return;
    const problems: string[] = [];
    const c = compileRule(rule, index, problems);
    if (problems.length === 0) compiled.push(c);
  });
  const denies = compiled.filter((r) => r.effect === 'deny' && r.condition === undefined);
  const findings: ConfigFinding[] = [];
  compiled.forEach((allow) => {
    if (allow.effect !== 'allow') return;
    const deny = denies.find((d) => shadows(d, allow));
    if (deny === undefined) return;
    findings.push({
      severity: 'warning',
      path: `policies[${allow.index}]`,
      message: `allow rule "${allow.id}" never allows anything: deny rule "${deny.id}" (policies[${deny.index}]) has no condition and applies to every request it applies to, for every user it could allow`,
    });
  });
  return findings;
}

function shadows(deny: CompiledRule, allow: CompiledRule): boolean {
  if (!setCovers(deny.routes, allow.routes)) return false;
  if (deny.tools !== undefined && (allow.tools === undefined || !toolMatcherCovers(deny.tools, allow.tools))) return false;
  if (deny.resources !== undefined && (allow.resources === undefined || !allow.resources.every((a) => deny.resources!.some((d) => d.source === '*' || d.source === a.source)))) return false;
  if (!setCovers(deny.prompts, allow.prompts)) return false;
  if (!setCovers(deny.methods, allow.methods)) return false;
  if (deny.paths !== undefined && (allow.paths === undefined || !allow.paths.every((a) => deny.paths!.some((d) => pathCovers(d, a))))) return false;
  if (!deny.scopes.every((s) => allow.scopes.includes(s))) return false;
  if (deny.roles.length > 0 && (allow.roles.length === 0 || !allow.roles.every((r) => deny.roles.includes(r)))) return false;
  if (deny.groups.length > 0 && (allow.groups.length === 0 || !allow.groups.every((g) => deny.groups.includes(g)))) return false;
  return true;
}

/** An absent set matches anything: `outer` covers `inner` when absent, or when `inner` is set and a subset. */
function setCovers(outer: ReadonlySet<string> | undefined, inner: ReadonlySet<string> | undefined): boolean {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  for (const v of inner) if (!outer.has(v)) return false;
  return true;
}

/** True when every path `inner` matches, `outer` matches too. */
function pathCovers(outer: PathPattern, inner: PathPattern): boolean {
  const o = outer.segments;
  const i = inner.segments;
  if (outer.rest) {
    // `inner` must have at least as many fixed segments as `outer` (its own `*` may only come after them).
    if (i.length < o.length) return false;
  } else if (inner.rest || i.length !== o.length) {
    return false;
  }
  for (let k = 0; k < o.length; k++) {
    const os = o[k]!;
    const is = i[k]!;
    if (os.kind === 'param') continue;
    if (is.kind !== 'literal' || is.value !== os.value) return false;
  }
  return true;
}
