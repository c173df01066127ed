import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Identity } from '../../../src/authenticate/identity.js';
import { promptPolicyInput, resourcePolicyInput, templatePolicyInput } from '../../../src/authorize/feature-policy.js';
import { compilePolicy, type Policy } from '../../../src/authorize/policy.js';
import { parsePolicyCases, runPolicyCases } from '../../../src/authorize/policy-cases.js';
import { compileResourcePattern } from '../../../src/authorize/resource-pattern.js';
import { toolPolicyInput } from '../../../src/authorize/tool-listing.js';
import { validateConfig } from '../../../src/config/load.js';
import { policyRuleSchema, type PolicyRule } from '../../../src/config/schema.js';
import { compileTemplate } from '../../../src/mcp-upstream/uri-template.js';
import { buildSnapshot, type DirectorySnapshot } from '../../../src/resolve/directory-snapshot.js';
import { PUBLIC_URL, who } from './helpers.js';

/**
 * "One decision" for what upstreams serve besides tools: a resource is listed exactly when it is
 * readable; a template or a prompt is listed exactly when some request through it is allowed.
 * Checked for every person against every rule shape below, by brute force over candidates.
 */

const RULES: unknown[] = [
  { id: 'handbook', effect: 'allow', match: { resources: ['hr://handbook'] } },
  { id: 'own-review', effect: 'allow', match: { resources: ['hr://reviews/*'] }, when: 'body.uri == "hr://reviews/" + user.id' },
  { id: 'reports-reviews', effect: 'allow', match: { resources: ['hr://reviews/*'] }, roles: ['manager'], when: 'body.uri in user.reports.map(r, "hr://reviews/" + r)' },
  { id: 'no-finance-reviews', effect: 'deny', match: { resources: ['hr://reviews/mallory'] }, when: 'user.department != "Finance"' },
  { id: 'finance-docs', effect: 'allow', match: { resources: ['fin://*'] }, groups: ['finance'] },
  { id: 'no-secret-docs', effect: 'deny', match: { resources: ['fin://secret/*'] } },
  { id: 'scoped-wiki', effect: 'allow', match: { resources: ['wiki://*'] }, scopes: ['wiki:read'] },
  { id: 'summaries', effect: 'allow', match: { prompts: ['hr.review_summary'] }, roles: ['manager'], when: 'body.employee in user.reports' },
  { id: 'intro', effect: 'allow', match: { prompts: ['hr.intro'] } },
  { id: 'no-intro-for-contractors', effect: 'deny', match: { prompts: ['hr.intro'] }, roles: ['contractor'] },
  { id: 'platform-prompts', effect: 'allow', match: { prompts: ['hr.standup'] }, when: 'user.department == "Platform" && request.prompt == "hr.standup"' },
  { id: 'tools-only', effect: 'allow', match: { tools: ['ping'] } },
];

const RESOURCES = ['hr://handbook', 'hr://reviews/alice', 'hr://reviews/bob', 'hr://reviews/carol', 'hr://reviews/mallory', 'fin://ledger', 'fin://secret/plan', 'wiki://home', 'other://x'];
const TEMPLATES = ['hr://reviews/{employee}', 'fin://{doc}', 'fin://secret/{doc}', 'wiki://{+path}', 'other://{id}'];
const PROMPTS = ['hr.review_summary', 'hr.intro', 'hr.standup', 'hr.unknown'];
const IDS = ['alice', 'bob', 'carol', 'dave', 'mallory', 'zed'];

let policy: Policy;
let directory: DirectorySnapshot;

before(async () => {
  const built = buildSnapshot(await readFile(join(import.meta.dirname, '../../../examples/hr-demo/directory.yaml'), 'utf8'), 'yaml', 1, 0);
  if (!built.ok) throw new Error('demo directory invalid');
  directory = built.snapshot;
  policy = compilePolicy(RULES.map((r) => policyRuleSchema.parse(r) as PolicyRule));
});

const PEOPLE: Identity[] = [
  who('alice', { roles: ['manager'], scopes: ['wiki:read'] }),
  who('bob', { roles: ['contractor'] }),
  who('carol'),
  who('mallory', { groups: ['finance'] }),
  who('zed', { scopes: ['wiki:read'] }),
];

function base(identity: Identity) {
  const user = directory.get(identity.id);
  return { identity, ...(user === undefined ? {} : { user }), directory, path: '/mcp' };
}

/** Every URI of the candidates a template produces: each id, and a few documents. */
function expansions(template: string): string[] {
  const matches = compileTemplate(template)!;
  const candidates = [...RESOURCES, ...IDS.map((id) => `hr://reviews/${id}`), 'fin://plan', 'fin://secret/x', 'wiki://a/b', 'other://y'];
  return [...new Set(candidates)].filter(matches);
}

describe('one decision for listing and using resources and prompts', () => {
  it('a resource is listed exactly when it is readable (the same decide), and the lists differ per person', () => {
    const lists = new Map<string, string[]>();
    for (const person of PEOPLE) {
      const visible = RESOURCES.filter((uri) => policy.decide(resourcePolicyInput(base(person), uri)).allow);
      lists.set(person.id, visible);
    }
    assert.deepEqual(lists.get('alice'), ['hr://handbook', 'hr://reviews/alice', 'hr://reviews/bob', 'hr://reviews/carol', 'wiki://home']);
    assert.deepEqual(lists.get('mallory'), ['hr://handbook', 'hr://reviews/mallory', 'fin://ledger']);
    assert.deepEqual(lists.get('carol'), ['hr://handbook', 'hr://reviews/carol']);
  });

  it('a template is listed exactly when some URI it produces is readable', () => {
    const seen = { listed: 0, hidden: 0 };
    for (const person of PEOPLE) {
      for (const template of TEMPLATES) {
        const listed = policy.canList(templatePolicyInput(base(person), template));
        const readable = expansions(template).some((uri) => policy.decide(resourcePolicyInput(base(person), uri)).allow);
        assert.equal(listed, readable, `${person.id} / ${template}: listed=${listed}`);
        seen[listed ? 'listed' : 'hidden'] += 1;
      }
    }
    assert.ok(seen.listed >= 5 && seen.hidden >= 5, JSON.stringify(seen));
  });

  it('a prompt is listed exactly when some arguments make prompts/get allowed', () => {
    for (const person of PEOPLE) {
      for (const prompt of PROMPTS) {
        const listed = policy.canList(promptPolicyInput(base(person), prompt));
        const usable = IDS.some((employee) => policy.decide(promptPolicyInput(base(person), prompt, { employee })).allow);
        assert.equal(listed, usable, `${person.id} / ${prompt}`);
      }
    }
    assert.equal(policy.canList(promptPolicyInput(base(PEOPLE[0]!), 'hr.review_summary')), true);
    assert.equal(policy.canList(promptPolicyInput(base(PEOPLE[1]!), 'hr.intro')), false, 'a deny rule on roles hides it');
  });

  it('listDecision names the rule that lets a user use it, or why not (for the completion audit record)', () => {
    const alice = base(PEOPLE[0]!);
    assert.deepEqual(policy.listDecision(promptPolicyInput(alice, 'hr.review_summary')), { allow: true, reason: 'allowed-by-rule', ruleId: 'summaries' });
    const bob = policy.listDecision(promptPolicyInput(base(PEOPLE[1]!), 'hr.intro'));
    assert.equal(!bob.allow && bob.reason, 'denied-by-rule');
    const noScope = policy.listDecision(templatePolicyInput(base(PEOPLE[2]!), 'wiki://{+path}'));
    assert.equal(!noScope.allow && noScope.reason, 'insufficient-scope');
  });

  it('`behalf policy test` cases can name a resource or a prompt', () => {
    const cases = parsePolicyCases(`
cases:
  - name: Alice reads Bob's review
    user: { id: alice, roles: [manager] }
    request: { resource: "hr://reviews/bob" }
    expect: { decision: allow, rule: reports-reviews }
  - name: Carol may not read Bob's review
    user: { id: carol }
    request: { resource: "hr://reviews/bob" }
    expect: { decision: deny, reason: missing-role, rule: reports-reviews }
  - name: Alice summarises Bob's review
    user: { id: alice, roles: [manager] }
    request: { prompt: hr.review_summary, body: { employee: bob } }
    expect: { decision: allow, rule: summaries }
`);
    const results = runPolicyCases(policy, directory, cases);
    assert.deepEqual(results.map((r) => r.problems), [[], [], []]);
  });

  it('resource and prompt rules never apply to tools, and tool rules never to resources', () => {
    const alice = base(PEOPLE[0]!);
    assert.equal(policy.decide(toolPolicyInput({ ...alice, tool: 'hr://handbook', arguments: { uri: 'hr://handbook' } })).allow, false);
    assert.equal(policy.decide(toolPolicyInput({ ...alice, tool: 'hr.intro', arguments: {} })).allow, false);
    assert.equal(policy.decide(resourcePolicyInput(alice, 'ping')).allow, false);
  });
});

describe('resource patterns', () => {
  it('`*` stands for any characters, the rest is literal and case-sensitive', () => {
    const p = compileResourcePattern('hr://reviews/*');
    assert.equal(p.matches('hr://reviews/bob'), true);
    assert.equal(p.matches('hr://reviews/bob/2025'), true);
    assert.equal(p.matches('hr://reviews/'), true);
    assert.equal(p.matches('HR://reviews/bob'), false);
    assert.equal(p.matches('hr://reviews'), false);
    const exact = compileResourcePattern('hr://a*b*c');
    assert.equal(exact.matches('hr://abc'), true);
    assert.equal(exact.matches('hr://axxbyyc'), true);
    assert.equal(exact.matches('hr://axxcyyb'), false);
  });

  it('templates: could a pattern match some URI of it, and does it match all of them', () => {
    const all = compileResourcePattern('hr://reviews/*');
    const one = compileResourcePattern('hr://reviews/bob');
    const other = compileResourcePattern('hr://salaries/*');
    assert.deepEqual([all.couldMatchTemplate('hr://reviews/{employee}'), all.coversTemplate('hr://reviews/{employee}')], [true, true]);
    assert.deepEqual([one.couldMatchTemplate('hr://reviews/{employee}'), one.coversTemplate('hr://reviews/{employee}')], [true, false]);
    assert.deepEqual([other.couldMatchTemplate('hr://reviews/{employee}'), other.coversTemplate('hr://reviews/{employee}')], [false, false]);
    assert.equal(compileResourcePattern('*.pdf').couldMatchTemplate('file:///{+path}'), true);
    assert.equal(compileResourcePattern('*.pdf').coversTemplate('file:///{+path}'), false);
  });

  it('the config refuses a rule that names resources or prompts together with another kind', () => {
    const result = validateConfig({
      server: { publicUrl: PUBLIC_URL },
      issuers: [{ id: 'idp', issuer: 'https://idp.example.test', audience: PUBLIC_URL, jwksUri: 'https://idp.example.test/jwks' }],
      policies: [{ id: 'mixed', effect: 'allow', match: { tools: ['x'], resources: ['hr://*'] } }],
    });
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.problems.map((p) => `${p.path}: ${p.message}`).join('\n') : '', /policies\[0\]\.match: "tools" and "resources" never apply together/);
  });
});
