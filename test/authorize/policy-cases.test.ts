import assert from 'node:assert/strict';
import type { RouteConfig } from '../../src/config/schema.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { formatCaseResult, formatSummary, loadPolicyCases, parsePolicyCases, runPolicyCases } from '../../src/authorize/policy-cases.js';
import { compilePolicy } from '../../src/authorize/policy.js';
import { registerPolicyTestCommand } from '../../src/cli/commands/policy-test.js';
import { loadConfigFile } from '../../src/config/load.js';
import { isBehalfError } from '../../src/errors.js';
import { DEMO_DIRECTORY_YAML, demoDirectory } from './demo.js';

const CONFIG = `
server: { publicUrl: "https://gateway.example.com" }
issuers:
  - { id: demo, issuer: "https://idp.example.com", audience: "https://gateway.example.com", jwksUri: "https://idp.example.com/jwks" }
directory: { file: people.yaml }
routes:
  - { id: hr, path: /api/hr, upstream: "http://127.0.0.1:9/hr", methods: [GET] }
  - { id: hr-admin, path: /api/hr/admin, upstream: "http://127.0.0.1:9/admin" }
policies:
  - id: manager-reads-team-reviews
    effect: allow
    match: { routes: [hr], paths: [/api/hr/reviews/:employee] }
    scopes: [hr.read]
    when: request.params.employee in user.reports
  - id: no-admin-for-interns
    effect: deny
    match: { routes: [hr-admin] }
    when: 'user.title == "Intern"'
  - id: admins
    effect: allow
    match: { routes: [hr-admin] }
    roles: [hr-admin]
`;

const PASSING = `
cases:
  - name: Alice reads Bob's review
    user: { id: alice, scopes: [hr.read] }
    request: { path: /api/hr/reviews/bob }
    expect: { decision: allow, rule: manager-reads-team-reviews }
  - name: Mallory cannot read Bob's review
    user: { id: mallory, scopes: [hr.read] }
    request: { path: "/api/hr/reviews/bob?year=2024" }
    expect: { decision: deny, reason: no-matching-rule }
  - name: without the scope, Alice is asked for it
    user: { id: alice }
    request: { route: hr, method: GET, path: /api/hr/reviews/carol }
    expect: { decision: deny, reason: insufficient-scope, rule: manager-reads-team-reviews }
  - name: Dave the intern is kept out of admin even with the role
    user: { id: dave, roles: [hr-admin] }
    request: { method: POST, path: /api/hr/admin/users, body: { name: x } }
    expect: { decision: deny, reason: denied-by-rule, rule: no-admin-for-interns }
  - name: the hr route takes GET only
    user: { id: alice, scopes: [hr.read] }
    request: { method: DELETE, path: /api/hr/reviews/bob }
    expect: { decision: deny, reason: method-not-allowed }
  - name: nothing serves /api/payroll
    user: { id: alice }
    request: { path: /api/payroll }
    expect: { decision: deny, reason: route-not-found }
`;

const FAILING = `
- name: Alice reads Mallory's review (wrong on purpose)
  user: { id: alice, scopes: [hr.read] }
  request: { path: /api/hr/reviews/mallory }
  expect: { decision: allow, rule: manager-reads-team-reviews }
- name: Alice reads Bob's review
  user: { id: alice, scopes: [hr.read] }
  request: { path: /api/hr/reviews/bob }
  expect: { decision: allow }
`;

describe('behalf policy test', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-policy-cases-'));
    await writeFile(join(dir, 'behalf.yaml'), CONFIG);
    await writeFile(join(dir, 'people.yaml'), DEMO_DIRECTORY_YAML);
    await writeFile(join(dir, 'passing.yaml'), PASSING);
    await writeFile(join(dir, 'failing.yaml'), FAILING);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('runs each case against the policy, the routes and the directory', async () => {
    const { config } = await loadConfigFile(join(dir, 'behalf.yaml'), {});
    const results = runPolicyCases(compilePolicy(config.policies), demoDirectory(), await loadPolicyCases(join(dir, 'passing.yaml')), { routes: config.routes });
    assert.deepEqual(
      results.map((r) => [r.passed, r.route]),
      [[true, 'hr'], [true, 'hr'], [true, 'hr'], [true, 'hr-admin'], [true, 'hr'], [true, undefined]],
    );
    assert.equal(formatSummary(results), '6 passed, 0 failed');
    assert.equal(formatCaseResult(results[0]!), "PASS  Alice reads Bob's review  (allow, allowed-by-rule, rule manager-reads-team-reviews)");
  });

  it('reproduces the request-integrity cases: a repeated query name and a duplicate JSON key are refused as the gateway refuses them', async () => {
    const config = `
server: { publicUrl: "https://gateway.example.com" }
issuers:
  - { id: demo, issuer: "https://idp.example.com", audience: "https://gateway.example.com", jwksUri: "https://idp.example.com/jwks" }
directory: { file: people.yaml }
routes:
  - { id: tickets, path: /api/tickets, upstream: "http://127.0.0.1:9/t", methods: [GET, POST] }
  - { id: search, path: /api/search, upstream: "http://127.0.0.1:9/s", query: { repeated: allow } }
policies:
  - { id: same-department, effect: allow, match: { routes: [tickets] }, when: "directory[request.query.assignee].department == user.department" }
  - { id: same-department-body, effect: allow, match: { routes: [tickets], methods: [POST] }, when: "directory[body.employee].department == user.department" }
  - { id: search-all, effect: allow, match: { routes: [search] }, when: "request.queryAll.assignee.all(a, directory[a].department == user.department)" }
`;
    await writeFile(join(dir, 'integrity.yaml'), config);
    const { config: loaded } = await loadConfigFile(join(dir, 'integrity.yaml'), {});
    const cases = parsePolicyCases(`
- { name: one assignee, user: { id: mallory }, request: { path: "/api/tickets?assignee=mallory" }, expect: { decision: allow, rule: same-department } }
- { name: twice in the path, user: { id: mallory }, request: { path: "/api/tickets?assignee=mallory&assignee=bob" }, expect: { decision: deny, reason: query-repeated } }
- { name: twice encoded, user: { id: mallory }, request: { path: "/api/tickets?assignee=mallory&%61ssignee=bob" }, expect: { decision: deny, reason: query-repeated } }
- { name: twice as a list, user: { id: mallory }, request: { path: /api/tickets, query: { assignee: [mallory, bob] } }, expect: { decision: deny, reason: query-repeated } }
- { name: bad escape, user: { id: mallory }, request: { path: "/api/tickets?assignee=%zz" }, expect: { decision: deny, reason: query-malformed } }
- { name: allowed route with every value, user: { id: mallory }, request: { path: /api/search, query: { assignee: [mallory, bob] } }, expect: { decision: deny, reason: no-matching-rule } }
- { name: allowed route in own department, user: { id: mallory }, request: { path: /api/search, query: { assignee: [mallory, mallory] } }, expect: { decision: allow, rule: search-all } }
- { name: duplicate key, user: { id: alice }, request: { method: POST, path: /api/tickets, json: '{"employee":"mallory","employee":"bob"}' }, expect: { decision: deny, reason: json-duplicate-key } }
- { name: duplicate escaped key, user: { id: alice }, request: { method: POST, path: /api/tickets, json: '{"employee":"mallory","\\u0065mployee":"bob"}' }, expect: { decision: deny, reason: json-duplicate-key } }
- { name: unique keys, user: { id: alice }, request: { method: POST, path: /api/tickets, json: '{"employee":"bob"}' }, expect: { decision: allow, rule: same-department-body } }
`);
    const results = runPolicyCases(compilePolicy(loaded.policies), demoDirectory(), cases, { routes: loaded.routes });
    assert.deepEqual(results.filter((r) => !r.passed).map(formatCaseResult), []);
    assert.equal(results.length, 10);
  });

  it('an allow by a rule with an approval block is reported as needing approval, and expect.approval checks it', () => {
    const policies = [
      { id: 'add-review', effect: 'allow' as const, match: { routes: ['tickets'], methods: ['POST'] }, scopes: [], roles: [], groups: [], approval: { approvers: { manager: true, users: [], roles: [], groups: [] }, timeoutSeconds: 900, validSeconds: 600 } },
      { id: 'read', effect: 'allow' as const, match: { routes: ['tickets'], methods: ['GET'] }, scopes: [], roles: [], groups: [] },
    ];
    // Only what route inference reads (id, path prefix, methods).
    const routes = [{ id: 'tickets', path: '/api/tickets', methods: ['GET', 'POST'] }] as unknown as RouteConfig[];
    const cases = parsePolicyCases(`
- { name: held, user: { id: alice }, request: { method: POST, path: /api/tickets }, expect: { decision: allow, rule: add-review, approval: true } }
- { name: not held, user: { id: alice }, request: { method: GET, path: /api/tickets }, expect: { decision: allow, rule: read, approval: false } }
- { name: wrong on purpose, user: { id: alice }, request: { method: GET, path: /api/tickets }, expect: { decision: allow, approval: true } }
`);
    const [held, notHeld, wrong] = runPolicyCases(compilePolicy(policies as never), demoDirectory(), cases, { routes, approvalRules: new Set(['add-review']) });
    assert.equal(held!.passed, true, held!.problems.join('; '));
    assert.match(formatCaseResult(held!), /^PASS  held  \(allow, allowed-by-rule, rule add-review, needs approval\)$/);
    assert.equal(notHeld!.passed, true, notHeld!.problems.join('; '));
    assert.deepEqual(wrong!.problems, ['approval: expected needed, got not needed']);
  });

  it('reports what differs in a failing case', async () => {
    const { config } = await loadConfigFile(join(dir, 'behalf.yaml'), {});
    const [wrong, right] = runPolicyCases(compilePolicy(config.policies), demoDirectory(), await loadPolicyCases(join(dir, 'failing.yaml')), { routes: config.routes });
    assert.equal(wrong!.passed, false);
    assert.deepEqual(wrong!.problems, ['decision: expected allow, got deny', 'rule: expected manager-reads-team-reviews, got none']);
    assert.match(formatCaseResult(wrong!), /^FAIL  Alice reads Mallory's review \(wrong on purpose\): decision: expected allow, got deny; .*\(got deny, no-matching-rule\)$/);
    assert.equal(right!.passed, true);
  });

  it('prints one line per case and a summary, and succeeds when all pass', async () => {
    const { program, out } = cli();
    await program.parseAsync(['policy', 'test', '--config', join(dir, 'behalf.yaml'), join(dir, 'passing.yaml')], { from: 'user' });
    assert.equal(out.length, 7);
    assert.ok(out.slice(0, 6).every((l) => l.startsWith('PASS  ')));
    assert.equal(out[6], '6 passed, 0 failed');
  });

  it('exits non-zero when a case fails', async () => {
    const { program, out, err } = cli();
    await assert.rejects(program.parseAsync(['policy', 'test', '-c', join(dir, 'behalf.yaml'), join(dir, 'failing.yaml')], { from: 'user' }), (e) => {
      assert.ok(e instanceof CommanderError);
      assert.equal(e.exitCode, 1);
      return true;
    });
    assert.match(out[0]!, /^FAIL  /);
    assert.match(out[1]!, /^PASS  /);
    assert.equal(out[2], '1 passed, 1 failed');
    assert.match(err.join(''), /1 policy case\(s\) failed/);
  });

  it('refuses an invalid cases file, naming the path of every problem', async () => {
    const text = `cases:
  - name: ok
    user: { id: alice }
    request: { path: /x }
    expect: { decision: allow }
  - name: broken
    user: { id: alice, scope: [a] }
    request: { method: GET }
    expect: { decision: maybe, reason: no-such-reason }
`;
    await writeFile(join(dir, 'invalid.yaml'), text);
    await assert.rejects(loadPolicyCases(join(dir, 'invalid.yaml')), (e) => {
      assert.ok(isBehalfError(e, 'config-invalid'));
      assert.match(e.message, /cases\[1\]\.user: unknown key\(s\): scope/);
      assert.match(e.message, /cases\[1\]\.expect\.decision: /);
      assert.match(e.message, /cases\[1\]\.expect\.reason: not a known reason code/);
      return true;
    });
    assert.throws(() => parsePolicyCases('- name: x\n  user: { id: a }\n  request: { method: GET }\n  expect: { decision: deny }\n'), /cases\[0\]\.request\.path: set "path"/);
    await assert.rejects(loadPolicyCases(join(dir, 'nope.yaml')), (e) => isBehalfError(e, 'config-read-failed'));
  });
});

/** A program like the real CLI: output captured, errors thrown instead of exiting. */
function cli() {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('behalf')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void out.push(s.trimEnd()), writeErr: (s) => void err.push(s) });
  registerPolicyTestCommand(program, async (file) => (await loadConfigFile(file, {})).config);
  return { program, out, err };
}
