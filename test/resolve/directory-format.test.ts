import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSnapshot, type BuildResult } from '../../src/resolve/directory-snapshot.js';
import { DEMO_DIRECTORY_YAML } from '../authorize/demo.js';

function ok(result: BuildResult) {
  if (!result.ok) assert.fail(`expected a snapshot, got: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return result;
}

function problems(result: BuildResult): string[] {
  if (result.ok) assert.fail('expected the directory to be refused');
  return result.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('directory format', () => {
  it('derives direct reports and the whole team below each manager', () => {
    const { snapshot, warnings } = ok(buildSnapshot(DEMO_DIRECTORY_YAML, 'yaml', 1, 0));
    assert.deepEqual(warnings, []);
    assert.deepEqual(snapshot.get('alice')?.reports, ['bob', 'carol']);
    assert.deepEqual(snapshot.get('alice')?.team, ['bob', 'dave', 'carol']);
    assert.deepEqual(snapshot.get('bob')?.team, ['dave']);
    assert.deepEqual(snapshot.get('mallory')?.team, []);
    assert.equal(snapshot.get('bob')?.manager, 'alice');
    assert.equal(snapshot.get('mallory')?.department, 'Finance');
    assert.equal(snapshot.get('zed'), undefined);
    assert.equal(snapshot.version, 1);
  });

  it('accepts a map by id, a bare list and JSON, with the same result', () => {
    const map = ok(buildSnapshot('users:\n  alice: { department: Platform }\n  bob: { manager: alice }\n', 'yaml', 1, 0)).snapshot;
    const list = ok(buildSnapshot('- { id: alice, department: Platform }\n- { id: bob, manager: alice }\n', 'yaml', 1, 0)).snapshot;
    const json = ok(buildSnapshot(JSON.stringify({ users: [{ id: 'alice', department: 'Platform' }, { id: 'bob', manager: 'alice' }] }), 'json', 1, 0)).snapshot;
    for (const s of [map, list, json]) {
      assert.deepEqual(s.get('alice'), { id: 'alice', department: 'Platform', reports: ['bob'], team: ['bob'] });
    }
  });

  it('leaves absent attributes absent and freezes entries', () => {
    const { snapshot } = ok(buildSnapshot('users: [{ id: alice }]', 'yaml', 1, 0));
    const alice = snapshot.get('alice')!;
    assert.equal(Object.hasOwn(alice, 'manager'), false);
    assert.ok(Object.isFrozen(alice) && Object.isFrozen(alice.reports));
  });

  it('keeps an unknown manager as an attribute, with a warning naming the path', () => {
    const { snapshot, warnings } = ok(buildSnapshot('users:\n  - { id: alice }\n  - { id: bob, manager: zed }\n', 'yaml', 1, 0));
    assert.deepEqual(
      warnings.map((w) => `${w.path}: ${w.message}`),
      ['users[1].manager: unknown user "zed"'],
    );
    assert.equal(snapshot.get('bob')?.manager, 'zed');
  });

  it('breaks a management cycle with a warning instead of hanging', () => {
    const text = `users:
  - { id: a, manager: c }
  - { id: b, manager: a }
  - { id: c, manager: b }
  - { id: d, manager: c }
  - { id: self, manager: self }
`;
    const { snapshot, warnings } = ok(buildSnapshot(text, 'yaml', 1, 0));
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!.message, /management cycle a -> c -> b -> a/);
    assert.equal(warnings[0]!.path, 'users[0].manager');
    assert.equal(warnings[1]!.path, 'users[4].manager');
    // a's link to c was dropped: a is now the top of a -> b -> c -> d.
    assert.equal(snapshot.get('a')?.manager, undefined);
    assert.deepEqual(snapshot.get('a')?.team, ['b', 'c', 'd']);
    assert.deepEqual(snapshot.get('c')?.team, ['d']);
    assert.deepEqual(snapshot.get('self')?.team, []);
  });

  it('handles a deep chain without recursion limits', () => {
    const users = Array.from({ length: 3_000 }, (_, i) => ({ id: `u${i}`, ...(i > 0 ? { manager: `u${i - 1}` } : {}) }));
    const { snapshot } = ok(buildSnapshot(JSON.stringify(users), 'json', 1, 0));
    assert.equal(snapshot.get('u0')?.team.length, 2_999);
    assert.deepEqual(snapshot.get('u2998')?.team, ['u2999']);
  });

  it('refuses duplicate and missing ids, naming each path', () => {
    const text = 'users:\n  - { id: alice }\n  - { name: nobody }\n  - { id: alice }\n  - { id: "" }\n';
    assert.deepEqual(problems(buildSnapshot(text, 'yaml', 1, 0)), [
      'users[1].id: required',
      'users[2].id: duplicate id "alice" (first at users[0])',
      'users[3].id: must not be empty',
    ]);
  });

  it('refuses a map entry whose id differs from its key', () => {
    assert.deepEqual(problems(buildSnapshot('users:\n  alice: { id: bob }\n', 'yaml', 1, 0)), ['users.alice.id: must equal the map key "alice"']);
  });

  it('refuses text that is not the format at all', () => {
    assert.match(problems(buildSnapshot('{ "users": [', 'json', 1, 0))[0]!, /^: not valid JSON/);
    assert.deepEqual(problems(buildSnapshot('users: 3', 'yaml', 1, 0)), ['users: must be a list of users, or a map of users by id, under "users"']);
    assert.match(problems(buildSnapshot('a: 1\na: 2\n', 'yaml', 1, 0))[0]!, /not valid YAML/);
  });

  it('warns about unknown keys but loads the rest', () => {
    const { snapshot, warnings } = ok(buildSnapshot('users:\n  - { id: bob, manger: alice, cost_center: 42 }\n', 'yaml', 1, 0));
    assert.deepEqual(
      warnings.map((w) => w.path),
      ['users[0].manger', 'users[0].cost_center'],
    );
    assert.equal(snapshot.get('bob')?.manager, undefined);
  });

  it('treats "__proto__" and "constructor" as ordinary ids', () => {
    const { snapshot } = ok(buildSnapshot('users:\n  __proto__: { department: Evil }\n  bob: { manager: __proto__ }\n', 'yaml', 1, 0));
    assert.equal(snapshot.get('__proto__')?.department, 'Evil');
    assert.deepEqual(snapshot.get('__proto__')?.reports, ['bob']);
    assert.equal(snapshot.get('constructor'), undefined);
    assert.equal(({} as { department?: string }).department, undefined);
    const json = ok(buildSnapshot('{"users":[{"id":"eve","__proto__":{"department":"Finance"}}]}', 'json', 1, 0));
    assert.equal(json.snapshot.get('eve')?.department, undefined);
  });
});
