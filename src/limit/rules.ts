import type { Identity } from '../authenticate/identity.js';
import type { LimitRule } from '../config/schema.js';
import type { RateSpec } from '../stores/types.js';
import { compileToolMatcher } from '../lib/tool-pattern.js';
import { bucketName } from './bucket-key.js';
import type { QuotaPeriod } from './periods.js';

/**
 * Limit rules compiled once at start: which requests a rule applies to, which bucket a request
 * counts in, and the rule's `RateLimit-Policy` item.
 */

/** What a rule can match and key on: the verified caller and the resolved target, nothing a client wrote. */
export interface LimitSubject {
  readonly door: 'http' | 'mcp';
  /** The verified identity (authenticate stage). */
  readonly identity: Identity;
  /** HTTP door: the resolved route id. */
  readonly route?: string;
  /** MCP door: the catalog name of the tool called. */
  readonly tool?: string;
  /** The HTTP method (every MCP request is a POST). */
  readonly method: string;
}

interface RuleBase {
  readonly id: string;
  /** True when the rule counts this request. */
  applies(subject: LimitSubject): boolean;
  /** The bucket this request counts in (see bucket-key.ts). */
  bucket(subject: LimitSubject): string;
  /** `"<id>";q=...` for the `RateLimit-Policy` header, when it does not depend on time. */
  readonly policy?: string;
}

/** A compiled GCRA rate rule. */
export interface RateRule extends RuleBase {
  readonly kind: 'rate';
  readonly spec: RateSpec;
}

/** A compiled quota rule: `limit` cost units per UTC calendar `period`. */
export interface QuotaRule extends RuleBase {
  readonly kind: 'quota';
  readonly limit: number;
  readonly period: QuotaPeriod;
}

/** A compiled concurrency rule: at most `limit` requests of one bucket in flight. */
export interface ConcurrencyRule extends RuleBase {
  readonly kind: 'concurrency';
  readonly limit: number;
}

/** A rule of `limits.rules`, compiled. */
export type CompiledRule = RateRule | QuotaRule | ConcurrencyRule;

const KEY_PART: Record<LimitRule['key'][number], (s: LimitSubject) => string> = {
  // The issuer is part of the user: two IdPs may both have a user "123".
  user: (s) => `${s.identity.issuer}\n${s.identity.id}`,
  // A claimed tenant of another issuer is already qualified (`partner:acme`, user-names.ts).
  tenant: (s) => s.identity.tenant ?? '',
  // Client ids are the IdP's: two IdPs may both register a client "chatgpt".
  client: (s) => (s.identity.client === undefined ? '' : `${s.identity.issuer}\n${s.identity.client}`),
  tool: (s) => s.tool ?? '',
  route: (s) => s.route ?? '',
};

/**
 * Bucket names per identity object: the authenticate stage's token cache hands out the same
 * Identity for every request with the same token, so a user's buckets are hashed once per token
 * rather than once per request. Entries go with the identity (a WeakMap); per identity there is
 * at most one per rule and route or tool.
 */
const buckets = new WeakMap<Identity, Map<string, string>>();

function cachedBucket(s: LimitSubject, ruleId: string, make: () => string): string {
  let names = buckets.get(s.identity);
  if (names === undefined) buckets.set(s.identity, (names = new Map()));
  const key = `${ruleId}\n${s.route ?? ''}\n${s.tool ?? ''}`;
  let name = names.get(key);
  if (name === undefined) names.set(key, (name = make()));
  return name;
}

/**
 * Compiles `limits.rules`. Matching: `routes` names HTTP routes (a rule with `routes` never
 * applies to an MCP tool call), `tools` names MCP tools or patterns (`hr.*`, lib/tool-pattern.ts;
 * never applies to an HTTP route),
 * `methods` the HTTP method; an absent field matches anything. Key parts a request does not
 * have (`tool` on the HTTP door, `route` on the MCP door, no tenant or client claim) are empty.
 *
 * This does NOT decide whether a request is limited (the limiter asks the store) and does NOT
 * read anything a client sent beyond the method: parts come from the verified identity and the
 * resolved route or tool.
 */
export function compileRules(rules: readonly LimitRule[]): CompiledRule[] {
  return rules.map((rule) => {
    const routes = rule.match.routes === undefined ? undefined : new Set(rule.match.routes);
    const tools = rule.match.tools === undefined ? undefined : compileToolMatcher(rule.match.tools);
    const methods = rule.match.methods === undefined ? undefined : new Set<string>(rule.match.methods);
    const parts = rule.key.map((k) => KEY_PART[k]);
    const base = {
      id: rule.id,
      applies: (s: LimitSubject) =>
        (routes === undefined || (s.route !== undefined && routes.has(s.route))) &&
        (tools === undefined || (s.tool !== undefined && tools.matches(s.tool))) &&
        (methods === undefined || methods.has(s.method)),
      bucket: (s: LimitSubject) => cachedBucket(s, rule.id, () => bucketName(rule.id, parts.map((p) => p(s)))),
    };
    if (rule.rate !== undefined) {
      const { limit, windowSeconds, burst } = rule.rate;
      return {
        ...base,
        kind: 'rate',
        spec: { limit, windowMs: windowSeconds * 1000, burst: burst ?? limit },
        // `w` is whole seconds (the draft has no sub-second windows): rounding up understates the rate, never overstates it.
        policy: `"${rule.id}";q=${limit};w=${Math.max(1, Math.ceil(windowSeconds))}`,
      } satisfies RateRule;
    }
    if (rule.quota !== undefined) {
      // The window of a month depends on the month: the limiter writes this policy per request.
      return { ...base, kind: 'quota', limit: rule.quota.limit, period: rule.quota.period } satisfies QuotaRule;
    }
    const limit = rule.concurrency ?? 1;
    return { ...base, kind: 'concurrency', limit, policy: `"${rule.id}";q=${limit};qu="concurrent-requests"` } satisfies ConcurrencyRule;
  });
}
