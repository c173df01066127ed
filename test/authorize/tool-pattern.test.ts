import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity } from '../../src/authenticate/identity.js';
import { compilePolicy, type Policy } from '../../src/authorize/policy.js';
import { listableTools, toolPolicyInput } from '../../src/authorize/tool-listing.js';
import { configSchema, policyRuleSchema, type PolicyRule } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/load.js';
import { compileToolMatcher, toolMatcherCovers } from '../../src/lib/tool-pattern.js';
import { compileRules } from '../../src/limit/rules.js';
import { buildToolCatalog } from '../../src/tools/catalog.js';
import type { ToolSource } from '../../src/tools/types.js';
import { demoDirectory, identity } from './demo.js';

/**
 * Tool-name patterns (`hr.*`, `hr.get_*`, `*`) in `match.tools`: what they match, that the policy
 * and `tools/list` honour them, and that the schema refuses a `*` anywhere but at the end.
 */

const directory = demoDirectory();

function policy(...rules: unknown[]): Policy {
  return compilePolicy(rules.map((r) => policyRuleSchema.parse(r)) as PolicyRule[]);
}

function call(p: Policy, who: Identity, tool: string) {
  const user = directory.get(who.id);
  return p.decide(toolPolicyInput({ identity: who, ...(user ? { user } : {}), directory, path: '/mcp', tool, arguments: {} }));
}

const alice = identity('alice', { roles: ['manager'] });
const mallory = identity('mallory', { roles: ['analyst'] });

describe('tool patterns: what they match', () => {
  it('"hr.*" is every tool of upstream hr, nested dots included; "hr.get_*" a prefix; "*" everything; a name only itself', () => {
    const m = compileToolMatcher(['hr.*']);
    assert.deepEqual(['hr.get_reviews', 'hr.admin.reset', 'hrx.get', 'hr', 'get_reviews'].map((t) => m.matches(t)), [true, true, false, false, false]);
    const get = compileToolMatcher(['hr.get_*']);
    assert.deepEqual(['hr.get_reviews', 'hr.get_', 'hr.add_review'].map((t) => get.matches(t)), [true, true, false]);
    assert.equal(compileToolMatcher(['*']).matches('anything.at.all'), true);
    const exact = compileToolMatcher(['hr.get_reviews', 'ping']);
    assert.deepEqual(['hr.get_reviews', 'ping', 'hr.get_reviews2', 'pin'].map((t) => exact.matches(t)), [true, true, false, false]);
    assert.deepEqual(exact.prefixes, [], 'a list of names compiles to a set only');
  });

  it('covering: a shorter pattern covers a longer one and the names under it, not the other way', () => {
    const cover = (outer: string[], inner: string[]) => toolMatcherCovers(compileToolMatcher(outer), compileToolMatcher(inner));
    assert.equal(cover(['hr.*'], ['hr.get_*', 'hr.add_review']), true);
    assert.equal(cover(['*'], ['everything.*']), true);
    assert.equal(cover(['hr.get_*'], ['hr.*']), false);
    assert.equal(cover(['hr.get_reviews'], ['hr.get_*']), false);
    assert.equal(cover(['hr.get_reviews'], ['hr.get_reviews']), true);
  });

  it('the schema refuses "*" anywhere but at the end, in policies, limits and readOnlyTools, naming the path', () => {
    const base = { server: { publicUrl: 'https://gw.example' }, issuers: [{ id: 'idp', issuer: 'https://idp.example', audience: 'https://gw.example', jwksUri: 'https://idp.example/jwks' }] };
    const r = validateConfig({
      ...base,
      upstreams: [{ id: 'hr', url: 'http://127.0.0.1:9/mcp', readOnlyTools: ['get_*', '*_reviews'] }],
      policies: [{ id: 'a', effect: 'allow', match: { tools: ['hr.*', 'hr.*.x', '*'] } }],
      limits: { rules: [{ id: 'l', match: { tools: ['h*r'] }, concurrency: 2 }] },
    });
    assert.equal(r.ok, false);
    const paths = !r.ok ? r.problems.map((p) => p.path).sort() : [];
    assert.deepEqual(paths, ['limits.rules[0].match.tools[0]', 'policies[0].match.tools[1]', 'upstreams[0].readOnlyTools[1]']);
    assert.ok(configSchema.safeParse({ ...base, policies: [{ id: 'a', effect: 'allow', match: { tools: ['hr.*', 'hr.get_*', '*'] } }] }).success);
  });
});

describe('tool patterns: the policy decides on them', () => {
  const p = policy(
    { id: 'managers-use-hr', effect: 'allow', match: { tools: ['hr.*'] }, roles: ['manager'] },
    { id: 'anyone-reads', effect: 'allow', match: { tools: ['hr.get_*', 'ping'] } },
    { id: 'nobody-resets', effect: 'deny', match: { tools: ['hr.admin.*'] } },
    { id: 'no-delete', effect: 'deny', match: { tools: ['hr.delete_review'] } },
  );

  it('a manager may call every hr tool but the denied ones; others only the get_ tools and ping', () => {
    const decision = (who: Identity, tool: string) => {
      const d = call(p, who, tool);
      return d.allow ? `allow ${d.ruleId}` : `deny ${d.reason}${d.ruleId ? ` ${d.ruleId}` : ''}`;
    };
    assert.equal(decision(alice, 'hr.add_review'), 'allow managers-use-hr');
    assert.equal(decision(alice, 'hr.get_reviews'), 'allow managers-use-hr', 'first allow in file order');
    assert.equal(decision(alice, 'hr.admin.reset'), 'deny denied-by-rule nobody-resets', 'a pattern deny beats a pattern allow');
    assert.equal(decision(alice, 'hr.delete_review'), 'deny denied-by-rule no-delete', 'an exact deny beats a pattern allow');
    assert.equal(decision(alice, 'wiki.search'), 'deny no-matching-rule');
    assert.equal(decision(mallory, 'hr.get_reviews'), 'allow anyone-reads');
    assert.equal(decision(mallory, 'hr.add_review'), 'deny missing-role managers-use-hr');
    assert.equal(decision(mallory, 'ping'), 'allow anyone-reads');
    // Asked twice (remembered after the first time): the same decision.
    assert.equal(decision(mallory, 'hr.add_review'), 'deny missing-role managers-use-hr');
  });

  it('an exact name a rule gives also gets the pattern rules that match it', () => {
    const q = policy(
      { id: 'exact-allow', effect: 'allow', match: { tools: ['hr.get_reviews'] } },
      { id: 'freeze-hr', effect: 'deny', match: { tools: ['hr.*'] }, when: 'user.department == "Finance"' },
    );
    assert.equal(call(q, alice, 'hr.get_reviews').allow, true);
    const d = call(q, mallory, 'hr.get_reviews');
    assert.equal(!d.allow && d.ruleId, 'freeze-hr');
  });

  it('"*" is every tool, and not a route: a route request is not matched by a tools rule', () => {
    const q = policy({ id: 'all-tools', effect: 'allow', match: { tools: ['*'] } });
    assert.equal(call(q, mallory, 'anything').allow, true);
    const d = q.decide({ identity: mallory, directory, route: 'hr', method: 'GET', path: '/api/hr' });
    assert.equal(d.allow, false);
  });

  it('tools/list shows the tools the patterns allow, in catalog order (the issue: managers saw 2 of 14)', () => {
    const source: ToolSource = { id: 'everything', kind: 'mcp', call: async () => ({ content: [] }) };
    const names = Array.from({ length: 14 }, (_, i) => `everything.tool_${i}`);
    const catalog = buildToolCatalog([{ source, definitions: [...names, 'ping'].map((name) => ({ name, inputSchema: { type: 'object' } })) }]);
    const q = policy(
      { id: 'managers-everything', effect: 'allow', match: { tools: ['everything.*'] }, roles: ['manager'] },
      { id: 'anyone-pings', effect: 'allow', match: { tools: ['ping'] } },
    );
    const listed = (who: Identity) => {
      const user = directory.get(who.id);
      return listableTools(q, catalog, { identity: who, ...(user ? { user } : {}), directory, path: '/mcp' }).map((t) => t.definition.name);
    };
    assert.deepEqual(listed(alice), [...names, 'ping']);
    assert.deepEqual(listed(mallory), ['ping']);
  });
});

describe('tool patterns in limits.rules', () => {
  it('a limit on "hr.*" applies to every hr tool and to nothing else', () => {
    const parsed = configSchema.shape.limits.parse({ rules: [{ id: 'hr-calls', match: { tools: ['hr.*'] }, concurrency: 2 }] });
    const [rule] = compileRules(parsed.rules);
    const subject = (tool?: string, route?: string) => ({ door: tool ? ('mcp' as const) : ('http' as const), identity: alice, method: 'POST', ...(tool ? { tool } : {}), ...(route ? { route } : {}) });
    assert.equal(rule!.applies(subject('hr.get_reviews')), true);
    assert.equal(rule!.applies(subject('hr.admin.reset')), true);
    assert.equal(rule!.applies(subject('wiki.search')), false);
    assert.equal(rule!.applies(subject(undefined, 'hr')), false);
  });
});
