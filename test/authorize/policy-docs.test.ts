import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePolicy } from '../../src/authorize/policy.js';
import { policyRuleSchema, type PolicyRule } from '../../src/config/schema.js';
import { demoDirectory, identity } from './demo.js';

/**
 * The "examples for the demo company" in docs/policy.md, each run with the people its comment
 * names, so the documentation cannot drift from what the gateway does.
 */
const doc = readFileSync(new URL('../../docs/policy.md', import.meta.url), 'utf8');
const examples = [...doc.matchAll(/^when: (.+)$/gm)].map((m) => m[1]!);
const directory = demoDirectory();

function decide(when: string, who: string, employee: string, body: unknown = null): boolean {
  const policy = compilePolicy([policyRuleSchema.parse({ id: 'example', effect: 'allow', match: { paths: ['/api/people/:employee'] }, when }) as PolicyRule]);
  const user = directory.get(who);
  return policy.decide({ identity: identity(who), ...(user ? { user } : {}), directory, method: 'GET', path: `/api/people/${employee}`, body }).allow;
}

const expectations: Record<string, [who: string, employee: string, allowed: boolean, body?: unknown][]> = {
  'request.params.employee in user.reports': [['alice', 'bob', true], ['alice', 'carol', true], ['alice', 'dave', false], ['alice', 'mallory', false]],
  'request.params.employee in user.team': [['alice', 'bob', true], ['alice', 'carol', true], ['alice', 'dave', true], ['alice', 'mallory', false]],
  'directory[request.params.employee].department == user.department': [['bob', 'carol', true], ['mallory', 'bob', false]],
  'request.params.employee in directory && directory[request.params.employee].department == user.department': [['bob', 'carol', true], ['bob', 'zed', false], ['bob', '__proto__', false]],
  'request.params.employee == user.id': [['bob', 'bob', true], ['bob', 'carol', false]],
  'has(user.manager) && request.params.employee == user.manager': [['bob', 'alice', true], ['alice', 'alice', false], ['carol', 'bob', false]],
  'request.params.employee in directory && directory[request.params.employee].department == "Finance" && user.department != "Finance"': [['alice', 'mallory', true], ['mallory', 'mallory', false], ['alice', 'bob', false], ['alice', 'zed', false]],
  'has(body.amount) && body.amount <= 100': [['bob', 'x', true, { amount: 100 }], ['bob', 'x', true, { amount: 99.5 }], ['bob', 'x', false, { amount: 100.5 }], ['bob', 'x', false, {}]],
};

describe('docs/policy.md examples', () => {
  it('every example condition in the docs is covered here', () => {
    assert.deepEqual(examples.sort(), Object.keys(expectations).sort());
  });
  for (const [when, cases] of Object.entries(expectations)) {
    it(when, () => {
      for (const [who, employee, allowed, body] of cases) assert.equal(decide(when, who, employee, body), allowed, `${who} -> ${employee}`);
    });
  }
});
