import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from '../../src/lib/canonical-json.js';
import { nestsDeeper } from '../../src/lib/json-depth.js';
import { scanJson, type JsonBounds } from '../../src/lib/json-scan.js';

/**
 * The bounds put on untrusted JSON before anything recursive reads it: the one-pass scan of a
 * text (depth, values, member spans), the depth check of a parsed value, and canonical JSON,
 * which must write a value nested 100,000 levels and, for everything else, exactly what the
 * recursive definition writes (its digest is signed and chained).
 *
 * This does NOT test duplicate keys (json-duplicate-keys.test.ts does) nor the doors (test/faults/).
 */

const B = (maxDepth: number, maxValues = 1_000_000): JsonBounds => ({ maxDepth, maxValues });
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('scanJson: depth', () => {
  for (const [text, depth] of [
    ['1', 0],
    ['"x"', 0],
    ['{}', 1],
    ['[1,2]', 1],
    ['{"a":[1]}', 2],
    ['{"a":"[[[[","b":"{{{{"}', 1],
    ['[[],[[]],[]]', 3],
    [deep(64), 64],
  ] as const) {
    it(`${text.length > 20 ? `${text.slice(0, 10)}... (${depth} levels)` : text} is ${depth} levels`, () => {
      if (depth > 0) assert.equal(scanJson(text, B(depth - 1)).ok, false);
      assert.equal(scanJson(text, B(Math.max(depth, 1))).ok, true);
    });
  }

  it('stops at the first level past the bound, whatever follows', () => {
    const scan = scanJson(`{"id":3,"params":{"arguments":${deep(200_000)}}}`, B(64));
    assert.deepEqual(scan, { ok: false, problem: 'too-deep', under: 'params', spans: [] });
  });

  it('names the top-level member the problem is in, and none for a top-level array', () => {
    const top = scanJson(`{"a":1,"extra":${deep(10)}}`, B(5));
    assert.equal(!top.ok && top.under, 'extra');
    const arr = scanJson(`[1,${deep(10)}]`, B(5));
    assert.equal(!arr.ok && arr.under, undefined);
  });
});

describe('scanJson: values', () => {
  for (const [text, values] of [
    ['1', 1],
    ['{}', 1],
    ['{"a":1}', 2],
    ['{"a":"x","b":[true,false,null,-1.5e3]}', 7],
    ['[ 1 , 2 ,\n3 ]', 4],
    ['{"k":"a\\"b","l":{}}', 3],
  ] as const) {
    it(`${text} holds ${values} values (keys are not values)`, () => {
      assert.equal(scanJson(text, B(10, values)).ok, true);
      const over = scanJson(text, B(10, values - 1));
      assert.equal(!over.ok && over.problem, 'too-many-values');
    });
  }
});

describe('scanJson: member spans', () => {
  const MEMBERS = [['id'], ['params', 'arguments']];
  const spansOf = (text: string) => {
    const scan = scanJson(text, B(64), MEMBERS);
    assert.ok(scan.ok);
    return scan.spans.map((s) => (s === undefined ? undefined : text.slice(s.start, s.end)));
  };

  it('finds the id and the arguments at their paths, whatever their kind', () => {
    assert.deepEqual(spansOf('{"jsonrpc":"2.0","id":12,"params":{"name":"t","arguments":{"a":[1,{"b":2}]}}}'), ['12', '{"a":[1,{"b":2}]}']);
    assert.deepEqual(spansOf('{"params":{"arguments":"text"},"id":"x-1"}'), ['"x-1"', '"text"']);
    assert.deepEqual(spansOf('{ "id" : 7 , "params" : { "arguments" : [ 1 , 2 ] } }'), ['7', '[ 1 , 2 ]']);
  });

  it('does not take a member of the same name at another path', () => {
    assert.deepEqual(spansOf('{"x":{"id":1,"params":{"arguments":1}},"arguments":2,"y":[{"id":3}]}'), [undefined, undefined]);
    assert.deepEqual(spansOf('[{"id":1,"params":{"arguments":{}}}]'), [undefined, undefined]);
    assert.deepEqual(spansOf('{"params":{"x":{"arguments":1}}}'), [undefined, undefined]);
  });

  it('measures the arguments in bytes of UTF-8 as the caller asks (the span is in characters)', () => {
    const text = '{"id":1,"params":{"arguments":{"name":"é€"}}}';
    const [, args] = spansOf(text);
    assert.equal(Buffer.byteLength(args!), '{"name":"é€"}'.length + 3);
  });
});

describe('nestsDeeper', () => {
  it('counts levels as the scan does, and walks 100,000 levels without recursion', () => {
    assert.equal(nestsDeeper('x', 0), false);
    assert.equal(nestsDeeper({}, 0), true);
    assert.equal(nestsDeeper({ a: [1] }, 2), false);
    assert.equal(nestsDeeper({ a: [1] }, 1), true);
    assert.equal(nestsDeeper([[], { b: [[{}]] }], 4), true);
    assert.equal(nestsDeeper(JSON.parse(deep(100_000)), 64), true);
    assert.equal(nestsDeeper(JSON.parse(deep(64)), 64), false);
  });
});

/** The recursive definition canonical JSON had before it was made iterative: the reference. */
function recursive(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value !== 'object') return 'null';
  if (Array.isArray(value)) return `[${value.map((v) => recursive(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) if (obj[key] !== undefined) parts.push(`${JSON.stringify(key)}:${recursive(obj[key])}`);
  return `{${parts.join(',')}}`;
}

describe('canonicalJson', () => {
  /** A deterministic pseudo-random value: objects with keys in and out of order, numeric keys, odd numbers, undefined. */
  function sample(seed: number, depth: number): unknown {
    let s = seed;
    const next = () => (s = (s * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const make = (d: number): unknown => {
      const r = next();
      if (d === 0 || r < 0.3) return [1.5e-7, -0, 1e21, Number.NaN, Number.POSITIVE_INFINITY, 'é\n"', '', true, false, null, undefined, 42][Math.floor(next() * 12)];
      if (r < 0.6) return Array.from({ length: Math.floor(next() * 4) }, () => make(d - 1));
      const keys = ['b', 'a', '10', '2', 'é', 'Z', '__proto__', 'toJSON', ''].filter(() => next() < 0.5);
      const obj: Record<string, unknown> = {};
      for (const k of next() < 0.5 ? keys.sort() : keys) Object.defineProperty(obj, k, { value: make(d - 1), enumerable: true, writable: true, configurable: true });
      return obj;
    };
    return make(depth);
  }

  it('writes what the recursive definition writes, for 2,000 values of every shape', () => {
    for (let seed = 1; seed <= 2_000; seed++) {
      const value = sample(seed, 5);
      assert.equal(canonicalJson(value), recursive(value), `seed ${seed}`);
      const parsed: unknown = value === undefined ? undefined : JSON.parse(JSON.stringify(value) ?? 'null');
      assert.equal(canonicalJson(parsed), recursive(parsed), `seed ${seed}, parsed`);
    }
    const notPlain = { d: new Date(0), f: () => 1, m: new Map([[1, 2]]), n: 1n, s: Symbol('s'), a: [() => 1, 1n] };
    assert.equal(canonicalJson(notPlain), recursive(notPlain));
  });

  it('writes a value nested 100,000 levels without growing the stack', () => {
    const text = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    assert.equal(canonicalJson(JSON.parse(text)), text);
    assert.equal(canonicalJson(JSON.parse(deep(100_000))), deep(100_000));
  });
});
