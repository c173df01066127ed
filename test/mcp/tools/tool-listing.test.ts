import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Identity } from '../../../src/authenticate/identity.js';
import { compilePolicy, type Policy } from '../../../src/authorize/policy.js';
import { canList, listableTools, toolPolicyInput } from '../../../src/authorize/tool-listing.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { policyRuleSchema, type Config, type PolicyRule } from '../../../src/config/schema.js';
import { buildSnapshot, type DirectorySnapshot } from '../../../src/resolve/directory-snapshot.js';
import { buildToolCatalog } from '../../../src/tools/catalog.js';
import type { ToolSource } from '../../../src/tools/types.js';
import { who } from './helpers.js';

/**
 * "One decision for listing and calling": for every rule shape in the examples, a tool is listed
 * for a user exactly when some arguments make a call to it allowed.
 */

const DEMO = join(import.meta.dirname, '../../../examples/hr-demo');
const DEMO_ENV = {
  BEHALF_PORT_NUMBER: '8080',
  BEHALF_PUBLIC_URL: 'http://127.0.0.1:8080',
  DEMO_IDP_URL: 'http://127.0.0.1:9000',
  DEMO_HR_URL: 'http://127.0.0.1:9001',
  DEMO_STATE_DIR: '/tmp/behalf-demo-unused',
  DEMO_ADMIN_PORT: '9091',
  DEMO_ADMIN_TOKEN: 'unused-demo-admin-token-0123456789abcdef',
};

/** Rule shapes the HR example does not have, one tool each. */
const MORE_RULES: unknown[] = [
  { id: 'anyone-pings', effect: 'allow', match: { tools: ['ping'] } },
  { id: 'hr-admin-report', effect: 'allow', match: { tools: ['admin_report'] }, roles: ['hr-admin'] },
  { id: 'platform-digest', effect: 'allow', match: { tools: ['team_digest'] }, groups: ['platform'] },
  { id: 'export-scope', effect: 'allow', match: { tools: ['export'] }, scopes: ['reviews:export'] },
  { id: 'no-contractor-export', effect: 'deny', match: { tools: ['export'] }, roles: ['contractor'] },
  { id: 'platform-stats', effect: 'allow', match: { tools: ['dept_stats'] }, when: 'user.department == "Platform"' },
  { id: 'ask-own-manager', effect: 'allow', match: { tools: ['ask_manager'] }, when: 'has(user.manager) && body.topic != ""' },
  { id: 'small-expenses', effect: 'allow', match: { tools: ['expense'] }, when: 'body.amount < 100.0' },
  { id: 'no-big-expenses', effect: 'deny', match: { tools: ['expense'] }, when: 'body.amount > 50.0' },
  { id: 'finance-no-danger', effect: 'deny', match: { tools: ['dangerous'] }, when: 'user.department == "Finance"' },
  { id: 'danger-for-all', effect: 'allow', match: { tools: ['dangerous'] } },
  { id: 'team-review', effect: 'allow', match: { tools: ['team_review'] }, when: 'body.employee in user.team' },
  { id: 'approve-leave', effect: 'allow', match: { tools: ['approve_leave'] }, when: 'user.reports.exists(r, r == body.employee)' },
  { id: 'feedback-for-all', effect: 'allow', match: { tools: ['peer_feedback'] } },
  // Errors fail closed: someone without a directory entry has no department, so this denies.
  { id: 'feedback-not-finance', effect: 'deny', match: { tools: ['peer_feedback'] }, when: 'directory[user.id].department == "Finance"' },
  { id: 'own-or-any-when-manager', effect: 'allow', match: { tools: ['either'] }, when: 'body.employee == user.id || size(user.reports) > 0 ? true : false' },
];

let policy: Policy;
let directory: DirectorySnapshot;
let tools: string[];

before(async () => {
  const { config } = await loadConfigFile(join(DEMO, 'behalf.yaml'), DEMO_ENV);
  const built = buildSnapshot(await readFile(join(DEMO, 'directory.yaml'), 'utf8'), 'yaml', 1, 0);
  if (!built.ok) throw new Error('demo directory invalid');
  directory = built.snapshot;
  policy = compilePolicy([...config.policies, ...MORE_RULES.map((r) => policyRuleSchema.parse(r) as PolicyRule)]);
  tools = [...demoTools(config), ...new Set(MORE_RULES.flatMap((r) => (r as { match: { tools: string[] } }).match.tools)), 'not_in_any_rule'];
});

function demoTools(config: Config): string[] {
  return config.tools.map((t) => t.name);
}

const PEOPLE: Identity[] = [
  who('alice', { scopes: ['reviews:read', 'reviews:write'], groups: ['platform'] }),
  who('bob', { scopes: ['reviews:read', 'reviews:write', 'reviews:export'], roles: ['contractor'], groups: ['platform'] }),
  who('carol', { scopes: ['reviews:export'] }),
  who('mallory', { scopes: ['reviews:read', 'reviews:write'], roles: ['hr-admin'] }),
  who('zed', { scopes: ['reviews:read'] }), // signed in, but not in the directory
];

/** Every argument value the rules can tell apart: each person, a stranger, amounts on each side of the limits, topics. */
const CANDIDATES: Record<string, unknown>[] = ['alice', 'bob', 'carol', 'mallory', 'zed', 'nobody'].flatMap((employee) =>
  [10, 75, 500].flatMap((amount) => ['', 'pay'].map((topic) => ({ employee, amount, topic, rating: 'meets', summary: 'ok' }))),
);

function base(identity: Identity) {
  const user = directory.get(identity.id);
  return { identity, ...(user === undefined ? {} : { user }), directory, path: '/mcp' };
}

function callable(identity: Identity, tool: string): boolean {
  return CANDIDATES.some((args) => policy.decide(toolPolicyInput({ ...base(identity), tool, arguments: args })).allow);
}

describe('one decision for listing and calling', () => {
  it('for every person and tool: listed exactly when some arguments make the call allowed', () => {
    const seen = { listed: 0, hidden: 0 };
    for (const person of PEOPLE) {
      for (const tool of tools) {
        const listed = canList(policy, { ...base(person), tool });
        assert.equal(listed, callable(person, tool), `${person.id} / ${tool}: listed=${listed}`);
        seen[listed ? 'listed' : 'hidden'] += 1;
      }
    }
    assert.ok(seen.listed > 10 && seen.hidden > 10, JSON.stringify(seen));
  });

  it('the HR demo: managers see add_review, engineers and Finance do not; everyone with the scope sees get_reviews', () => {
    const sees = (id: string) => tools.filter((tool) => canList(policy, { ...base(PEOPLE.find((p) => p.id === id)!), tool }));
    assert.deepEqual(sees('alice').filter((t) => t.includes('review')), ['get_reviews', 'list_my_visible_reviews', 'add_review', 'team_review']);
    assert.deepEqual(sees('bob').filter((t) => t.includes('review')), ['get_reviews', 'list_my_visible_reviews']);
    assert.deepEqual(sees('mallory').filter((t) => t.includes('review')), ['get_reviews', 'list_my_visible_reviews']);
  });

  it('deny rules: one that holds without arguments hides the tool (also by failing closed); one on arguments does not', () => {
    const [alice, bob, carol, mallory, zed] = PEOPLE as [Identity, Identity, Identity, Identity, Identity];
    assert.equal(canList(policy, { ...base(mallory), tool: 'dangerous' }), false);
    assert.equal(canList(policy, { ...base(alice), tool: 'dangerous' }), true);
    assert.equal(canList(policy, { ...base(zed), tool: 'peer_feedback' }), false, 'the deny condition errors for zed: fail closed');
    assert.equal(canList(policy, { ...base(bob), tool: 'export' }), false, 'role deny');
    assert.equal(canList(policy, { ...base(carol), tool: 'export' }), true);
    assert.equal(canList(policy, { ...base(alice), tool: 'expense' }), true, 'a small expense is allowed');
  });

  it('a tool only a missing scope keeps from a user is hidden, and calling it asks for that scope', () => {
    const noScopes = who('alice');
    assert.equal(canList(policy, { ...base(noScopes), tool: 'list_my_visible_reviews' }), false);
    const d = policy.decide(toolPolicyInput({ ...base(noScopes), tool: 'list_my_visible_reviews', arguments: {} }));
    assert.equal(d.allow, false);
    assert.equal(!d.allow && d.reason, 'insufficient-scope');
    assert.deepEqual(!d.allow && d.requiredScopes, ['reviews:read']);
  });

  it('the catalog filter drops blocked tools and what the policy hides, in catalog order', () => {
    const source: ToolSource = { id: 'hr', kind: 'mcp', call: async () => ({ content: [] }) };
    const catalog = buildToolCatalog([
      { source, definitions: ['ping', 'add_review', 'dangerous', 'get_reviews'].map((name) => ({ name, inputSchema: { type: 'object' } })), pins: new Map([['ping', 'blocked' as const]]) },
    ]);
    const names = (identity: Identity) => listableTools(policy, catalog, base(identity)).map((t) => t.definition.name);
    assert.deepEqual(names(PEOPLE[0]!), ['add_review', 'dangerous', 'get_reviews']);
    assert.deepEqual(names(PEOPLE[3]!), ['get_reviews']);
  });
});
