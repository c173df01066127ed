import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePathPattern, splitPath } from '../../src/authorize/path-pattern.js';

interface Vector {
  name: string;
  pattern: string;
  path: string;
  result: Record<string, string> | 'no-match' | 'refused';
}

const vectors = (JSON.parse(readFileSync(new URL('./vectors/path-patterns.json', import.meta.url), 'utf8')) as { cases: Vector[] }).cases;

describe('path patterns', () => {
  for (const v of vectors) {
    it(`${v.name}: ${v.pattern} vs ${v.path}`, () => {
      const segments = splitPath(v.path);
      if (v.result === 'refused') {
        assert.equal(segments, undefined);
        return;
      }
      assert.ok(segments !== undefined, 'the path should be matchable');
      const params = compilePathPattern(v.pattern).match(segments);
      if (v.result === 'no-match') assert.equal(params, undefined);
      else assert.deepEqual(params === undefined ? undefined : Object.fromEntries(params), v.result);
    });
  }

  it('refuses patterns that would be ambiguous, naming the problem', () => {
    assert.throws(() => compilePathPattern('api/x'), /must start with "\/"/);
    assert.throws(() => compilePathPattern('/api/*/x'), /"\*" must be the last segment/);
    assert.throws(() => compilePathPattern('/api/x*'), /"\*" must be a whole segment, not part of "x\*"/);
    assert.throws(() => compilePathPattern('/api/:'), /parameter name/);
    assert.throws(() => compilePathPattern('/api/:a-b'), /parameter name/);
    assert.throws(() => compilePathPattern('/:id/x/:id'), /":id" appears twice/);
    assert.throws(() => compilePathPattern('/api?x=1'), /query/);
    assert.throws(() => compilePathPattern('/api/%zz'), /percent-encoding/);
  });

  it('matches a very long path in linear time', () => {
    const path = `/a/x/b/${'seg/'.repeat(100_000)}`;
    const started = performance.now();
    const params = compilePathPattern('/a/:x/b/*').match(splitPath(path)!);
    assert.deepEqual(params && Object.fromEntries(params), { x: 'x' });
    assert.ok(performance.now() - started < 1_000);
  });
});
