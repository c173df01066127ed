import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readQuery, repeatedNames } from '../../src/lib/canonical-query.js';

/**
 * The one reading of a query string: decoding, what counts as the same name, what is refused.
 *
 * This does NOT go through a gateway (test/integrity/repeated-query.test.ts does).
 */

function ok(search: string, repeated: 'refuse' | 'allow' = 'refuse') {
  const r = readQuery(search, repeated);
  assert.ok(r.ok, `refused: ${r.ok ? '' : r.problem.detail}`);
  return r.query;
}

function refused(search: string) {
  const r = readQuery(search);
  assert.ok(!r.ok, `${search} was accepted`);
  return r.problem;
}

describe('readQuery', () => {
  it('reads names and values decoded, `+` as a space, a bare name as the empty value', () => {
    const q = ok('?a=1&b=x+y%20z&c&%64=%C3%A9&&');
    assert.deepEqual([...q.single], [['a', '1'], ['b', 'x y z'], ['c', ''], ['d', 'é']]);
    assert.deepEqual([...q.all], [['a', ['1']], ['b', ['x y z']], ['c', ['']], ['d', ['é']]]);
  });

  it('an empty query costs nothing and reads as empty', () => {
    assert.equal(ok('').single.size, 0);
    assert.equal(ok('?').all.size, 0);
  });

  for (const search of ['?a=vx&a=vy', '?a=vx&%61=vy', '?a=vx&A=vy', '?a&a', '?a=vx&b=vy&a=vx', '?a+b=vx&a%20b=vy']) {
    it(`${search} repeats a name: query-repeated, naming it and no value`, () => {
      const p = refused(search);
      assert.equal(p.reason, 'query-repeated');
      assert.match(p.detail, /^query parameter "a( b)?" repeated/);
      assert.doesNotMatch(p.detail, /v[xy]/);
    });
  }

  it('the detail says how the repeat was spelled when it differs', () => {
    assert.equal(refused('?assignee=x&%61ssignee=y').detail, 'query parameter "assignee" repeated (also as "%61ssignee")');
    assert.equal(refused('?assignee=x&Assignee=y').detail, 'query parameter "assignee" repeated (also as "Assignee")');
  });

  for (const search of ['?a=%zz', '?a=%', '?%=1', '?a=%ff', '?a=%c3%28', '?a=%ed%a0%80']) {
    it(`${search} does not decode: query-malformed`, () => {
      assert.equal(refused(search).reason, 'query-malformed');
    });
  }

  it("with repeated: 'allow', every value is kept and the name is left out of `single`", () => {
    const q = ok('?a=1&b=2&%61=3&A=4', 'allow');
    assert.deepEqual([...q.single], [['b', '2']]);
    assert.deepEqual(q.all.get('a'), ['1', '3', '4']);
    assert.deepEqual(repeatedNames(q), ['a']);
  });

  it('a `;` is not a separator (documented: it is part of the value)', () => {
    assert.deepEqual([...ok('?a=1;a=2').single], [['a', '1;a=2']]);
  });

  it('a name such as __proto__ is just a key', () => {
    assert.equal(ok('?__proto__=1').single.get('__proto__'), '1');
  });
});
