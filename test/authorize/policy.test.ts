import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity } from '../../src/authenticate/identity.js';
import { compilePolicy, type Policy, type PolicyInput } from '../../src/authorize/policy.js';
import { policyRuleSchema, type PolicyRule } from '../../src/config/schema.js';
import { isBehalfError } from '../../src/errors.js';
import type { Decision } from '../../src/pipeline/decision.js';
import { demoDirectory, identity } from './demo.js';

const directory = demoDirectory();

/** Rules as they come out of the config schema (defaults filled in). */
function policy(...rules: unknown[]): Policy {
  return compilePolicy(rules.map((r) => policyRuleSchema.parse(r)) as PolicyRule[]);
}

/** A request on route `hr` by `who`, joined to the directory the way the resolve stage does. */
function request(who: Identity, path: string, extra: Partial<PolicyInput> = {}): PolicyInput {
  const user = directory.get(who.id);
  return { identity: who, ...(user ? { user } : {}), directory, route: 'hr', method: 'GET', path, ...extra };
}

function summary(d: Decision): string {
  return `${d.allow ? 'allow' : `deny ${d.status}`} ${d.reason}${d.ruleId ? ` ${d.ruleId}` : ''}`;
}

const alice = identity('alice', { scopes: ['hr.read'], roles: ['manager'] });
const mallory = identity('mallory', { scopes: ['hr.read'], roles: ['analyst'] });

const teamReviews = {
  id: 'manager-reads-team-reviews',
  effect: 'allow',
  match: { routes: ['hr'], methods: ['GET'], paths: ['/api/hr/reviews/:employee'] },
  scopes: ['hr.read'],
  when: 'request.params.employee in user.reports',
};

describe('policy: deny by default and rule shapes', () => {
  it('denies everything when no rule applies', () => {
    const d = policy().decide(request(alice, '/api/hr/reviews/bob'));
    assert.equal(summary(d), 'deny 403 no-matching-rule');
    assert.equal(!d.allow && d.detail, 'no rule applies');
  });

  it('"my team": a manager reads her direct reports, and nobody else', () => {
    const p = policy(teamReviews);
    assert.equal(summary(p.decide(request(alice, '/api/hr/reviews/bob'))), 'allow allowed-by-rule manager-reads-team-reviews');
    assert.equal(summary(p.decide(request(alice, '/api/hr/reviews/carol'))), 'allow allowed-by-rule manager-reads-team-reviews');
    assert.equal(summary(p.decide(request(alice, '/api/hr/reviews/dave'))), 'deny 403 no-matching-rule', 'dave is in her team but not a direct report');
    assert.equal(summary(p.decide(request(alice, '/api/hr/reviews/mallory'))), 'deny 403 no-matching-rule');
    assert.equal(summary(p.decide(request(mallory, '/api/hr/reviews/bob'))), 'deny 403 no-matching-rule');
    assert.equal(summary(p.decide(request(identity('zed', { scopes: ['hr.read'] }), '/api/hr/reviews/bob'))), 'deny 403 no-matching-rule', 'no directory entry: no reports');
  });

  it('"whole team" and "same department" are one line each', () => {
    const team = policy({ ...teamReviews, id: 'team', when: 'request.params.employee in user.team' });
    assert.equal(team.decide(request(alice, '/api/hr/reviews/dave')).allow, true);
    const dept = policy({ ...teamReviews, id: 'same-dept', when: 'directory[request.params.employee].department == user.department' });
    assert.equal(dept.decide(request(identity('bob', { scopes: ['hr.read'] }), '/api/hr/reviews/carol')).allow, true);
    assert.equal(dept.decide(request(mallory, '/api/hr/reviews/bob')).allow, false);
  });

  it('ids such as __proto__ or constructor are just unknown people', () => {
    const p = policy({ ...teamReviews, when: 'request.params.employee in directory && directory[request.params.employee].department == user.department' });
    for (const id of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      assert.equal(summary(p.decide(request(alice, `/api/hr/reviews/${id}`))), 'deny 403 no-matching-rule', id);
    }
  });

  it('a rule without match fields applies to every request; a route rule only to its route', () => {
    const p = policy({ id: 'everything', effect: 'allow' }, { id: 'hr-only', effect: 'deny', match: { routes: ['hr'] } });
    assert.equal(summary(p.decide(request(alice, '/api/hr/x'))), 'deny 403 denied-by-rule hr-only');
    assert.equal(summary(p.decide(request(alice, '/api/wiki/x', { route: 'wiki' }))), 'allow allowed-by-rule everything');
    assert.equal(summary(p.decide(request(alice, '/mcp', { route: undefined, tool: 'search' }))), 'allow allowed-by-rule everything');
  });

  it('tool rules apply to tool calls only, and rules naming a route and a tool need both', () => {
    const p = policy(
      { id: 'search-tool', effect: 'allow', match: { tools: ['search'] } },
      { id: 'hr-lookup', effect: 'allow', match: { routes: ['hr'], tools: ['lookup'] } },
    );
    assert.equal(summary(p.decide(request(alice, '/mcp', { route: undefined, tool: 'search' }))), 'allow allowed-by-rule search-tool');
    assert.equal(summary(p.decide(request(alice, '/api/hr/x'))), 'deny 403 no-matching-rule');
    assert.equal(summary(p.decide(request(alice, '/mcp', { route: undefined, tool: 'lookup' }))), 'deny 403 no-matching-rule');
    assert.equal(summary(p.decide(request(alice, '/api/hr/x', { tool: 'lookup' }))), 'allow allowed-by-rule hr-lookup');
    assert.equal(summary(p.decide(request(alice, '/api/hr/x', { tool: 'search' }))), 'allow allowed-by-rule search-tool');
  });

  it('methods: a GET rule covers HEAD, not POST; methods compare case-insensitively', () => {
    const p = policy({ id: 'read', effect: 'allow', match: { methods: ['GET'] } });
    assert.equal(p.decide(request(alice, '/x', { method: 'HEAD' })).allow, true);
    assert.equal(p.decide(request(alice, '/x', { method: 'get' })).allow, true);
    assert.equal(p.decide(request(alice, '/x', { method: 'POST' })).allow, false);
  });

  it('allows by the first holding allow rule in config order', () => {
    const p = policy({ id: 'first', effect: 'allow', roles: ['nobody'] }, { id: 'second', effect: 'allow' }, { id: 'third', effect: 'allow' });
    assert.equal(summary(p.decide(request(alice, '/x'))), 'allow allowed-by-rule second');
  });

  it('a holding deny rule wins over any allow rule, wherever it is in the file', () => {
    const p = policy({ id: 'allow-all', effect: 'allow' }, { id: 'no-salaries', effect: 'deny', match: { paths: ['/api/hr/salaries/*'] } });
    assert.equal(summary(p.decide(request(alice, '/api/hr/salaries/bob'))), 'deny 403 denied-by-rule no-salaries');
    assert.equal(summary(p.decide(request(alice, '/api/hr/salaries'))), 'deny 403 denied-by-rule no-salaries');
    assert.equal(summary(p.decide(request(alice, '/api//hr/salaries/'))), 'deny 403 denied-by-rule no-salaries');
    assert.equal(summary(p.decide(request(alice, '/api/hr/%73alaries/bob'))), 'deny 403 denied-by-rule no-salaries');
    assert.equal(summary(p.decide(request(alice, '/api/hr/reviews'))), 'allow allowed-by-rule allow-all');
  });

  it('deny rules apply only to who they name: roles and groups select, a condition narrows', () => {
    const p = policy(
      { id: 'allow-all', effect: 'allow' },
      { id: 'no-interns', effect: 'deny', roles: ['intern'] },
      { id: 'no-contractors-after-hours', effect: 'deny', groups: ['contractors'], when: 'request.query.after_hours == "1"' },
    );
    assert.equal(summary(p.decide(request(identity('dave', { roles: ['intern'] }), '/x'))), 'deny 403 denied-by-rule no-interns');
    const contractor = identity('c', { groups: ['contractors'] });
    assert.equal(summary(p.decide(request(contractor, '/x', { query: new URLSearchParams('after_hours=1') }))), 'deny 403 denied-by-rule no-contractors-after-hours');
    assert.equal(summary(p.decide(request(contractor, '/x', { query: { after_hours: '0' } }))), 'allow allowed-by-rule allow-all');
  });

  it('refuses a path no backend should be trusted to read the same way', () => {
    const p = policy({ id: 'allow-all', effect: 'allow', match: { paths: ['/api/*'] } });
    const d = p.decide(request(alice, '/api/public/%2e%2e/admin'));
    assert.equal(summary(d), 'deny 400 bad-request');
  });
});

describe('policy: what the denial says was missing', () => {
  it('insufficient-scope lists every scope the rule needs, not only the missing ones', () => {
    const p = policy({ ...teamReviews, scopes: ['hr.read', 'hr.reviews'] });
    const d = p.decide(request(alice, '/api/hr/reviews/bob'));
    assert.equal(summary(d), 'deny 403 insufficient-scope manager-reads-team-reviews');
    assert.deepEqual(!d.allow && d.requiredScopes, ['hr.read', 'hr.reviews']);
  });

  it('does not ask for more scopes when they would not help (the condition is false too)', () => {
    const p = policy(teamReviews);
    const noScope = identity('alice');
    assert.equal(summary(p.decide(request(noScope, '/api/hr/reviews/bob'))), 'deny 403 insufficient-scope manager-reads-team-reviews');
    assert.equal(summary(p.decide(request(noScope, '/api/hr/reviews/mallory'))), 'deny 403 no-matching-rule');
  });

  it('roles: any one of the list; missing-role names the rule', () => {
    const p = policy({ id: 'hr-staff', effect: 'allow', roles: ['hr-admin', 'hr-partner'] });
    assert.equal(p.decide(request(identity('x', { roles: ['hr-partner'] }), '/x')).allow, true);
    assert.equal(summary(p.decide(request(identity('x', { roles: ['engineer'] }), '/x'))), 'deny 403 missing-role hr-staff');
  });

  it('groups: any one of the list; missing-group names the rule', () => {
    const p = policy({ id: 'finance', effect: 'allow', groups: ['finance', 'audit'] });
    assert.equal(p.decide(request(identity('x', { groups: ['audit'] }), '/x')).allow, true);
    assert.equal(summary(p.decide(request(identity('x', { groups: ['platform'] }), '/x'))), 'deny 403 missing-group finance');
  });

  it('scopes: all of the list', () => {
    const p = policy({ id: 'rw', effect: 'allow', scopes: ['a', 'b'] });
    assert.equal(p.decide(request(identity('x', { scopes: ['b', 'a', 'c'] }), '/x')).allow, true);
    assert.equal(p.decide(request(identity('x', { scopes: ['a'] }), '/x')).allow, false);
  });
});

describe('policy: conditions', () => {
  it('a deny rule whose condition cannot be evaluated denies (fail closed)', () => {
    const p = policy({ id: 'allow-all', effect: 'allow' }, { id: 'no-finance-reviews', effect: 'deny', match: { paths: ['/api/hr/reviews/:employee'] }, when: 'directory[request.params.employee].department == "Finance"' });
    assert.equal(summary(p.decide(request(alice, '/api/hr/reviews/mallory'))), 'deny 403 denied-by-rule no-finance-reviews');
    assert.equal(summary(p.decide(request(alice, '/api/hr/reviews/bob'))), 'allow allowed-by-rule allow-all');
    const unknown = p.decide(request(alice, '/api/hr/reviews/zed'));
    assert.equal(summary(unknown), 'deny 403 condition-error no-finance-reviews');
    assert.match(!unknown.allow ? (unknown.detail ?? '') : '', /no-finance-reviews: .*zed/);
  });

  it('an allow rule whose condition errors just does not hold, and the detail says why', () => {
    const p = policy({ ...teamReviews, when: 'directory[request.params.employee].department == user.department' });
    const d = p.decide(request(alice, '/api/hr/reviews/zed'));
    assert.equal(summary(d), 'deny 403 no-matching-rule');
    assert.match(!d.allow ? (d.detail ?? '') : '', /manager-reads-team-reviews: /);
  });

  it('a condition that is not a bool at run time is an error', () => {
    const p = policy({ id: 'allow-all', effect: 'allow' }, { id: 'flagged', effect: 'deny', when: 'body.flag' });
    assert.equal(summary(p.decide(request(alice, '/x', { body: { flag: 'yes' } }))), 'deny 403 condition-error flagged');
    assert.equal(summary(p.decide(request(alice, '/x', { body: { flag: false } }))), 'allow allowed-by-rule allow-all');
  });

  it('JSON numbers compare with int and double literals alike', () => {
    const p = policy({ id: 'small-refunds', effect: 'allow', when: 'has(body.amount) && body.amount <= 100 && body.currency in ["EUR", "USD"]' });
    for (const [amount, allowed] of [[100, true], [99.5, true], [100.01, false], [250, false]] as const) {
      assert.equal(p.decide(request(alice, '/refunds', { method: 'POST', body: { amount, currency: 'EUR' } })).allow, allowed, String(amount));
    }
    assert.equal(p.decide(request(alice, '/refunds', { method: 'POST', body: null })).allow, false);
    assert.equal(p.decide(request(alice, '/refunds', { method: 'POST' })).allow, false);
  });

  it('sees the first value of a repeated query parameter, and missing keys through has()', () => {
    const p = policy({ id: 'year', effect: 'allow', when: 'has(request.query.year) && request.query.year == "2024"' });
    assert.equal(p.decide(request(alice, '/x', { query: new URLSearchParams('year=2024&year=2025') })).allow, true);
    assert.equal(p.decide(request(alice, '/x', { query: new URLSearchParams('year=2025&year=2024') })).allow, false);
    assert.equal(p.decide(request(alice, '/x')).allow, false);
  });

  it('sees the user from the token and the directory together', () => {
    const p = policy({
      id: 'profile',
      effect: 'allow',
      when: 'user.id == "alice" && user.email == "alice@example.com" && user.title == "Engineering Manager" && "manager" in user.roles && !has(user.manager) && size(user.team) == 3',
    });
    assert.equal(p.decide(request(alice, '/x')).allow, true);
  });

  it('rejects bad patterns and conditions at load, naming every path', () => {
    assert.throws(
      () =>
        policy(
          { id: 'ok', effect: 'allow', when: 'true' },
          { id: 'syntax', effect: 'allow', when: 'user.id ==' },
          { id: 'typo', effect: 'allow', when: 'usr.id == "alice"' },
          { id: 'not-bool', effect: 'allow', when: '"yes"' },
          { id: 'pattern', effect: 'allow', match: { paths: ['/ok', '/a/*/b'] } },
        ),
      (err) => {
        assert.ok(isBehalfError(err, 'policy-invalid'));
        const lines = err.message.split('\n');
        assert.equal(lines.length, 4);
        assert.match(lines[0]!, /^policies\[1\]\.when: .*\(at character \d+\)$/);
        assert.match(lines[1]!, /^policies\[2\]\.when: Unknown variable: usr/);
        assert.match(lines[2]!, /^policies\[3\]\.when: must be a bool expression, but it is string$/);
        assert.match(lines[3]!, /^policies\[4\]\.match\.paths\[1\]: "\*" must be the last segment$/);
        return true;
      },
    );
  });

  it('lists every scope any rule mentions, once, in config order', () => {
    const p = policy({ id: 'a', effect: 'allow', scopes: ['hr.read', 'hr.write'] }, { id: 'b', effect: 'deny', scopes: ['hr.read', 'admin'] });
    assert.deepEqual(p.scopes, ['hr.read', 'hr.write', 'admin']);
  });
});
