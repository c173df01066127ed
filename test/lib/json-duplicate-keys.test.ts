import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findDuplicateKey } from '../../src/lib/json-scan.js';

/**
 * The duplicate-key scanner on JSON texts that `JSON.parse` accepts: what counts as the same key
 * (after unescaping), where a repeated key is found (any depth, objects inside arrays), and what
 * must not be mistaken for a key (strings holding quotes, colons, commas or braces).
 *
 * This does NOT test invalid JSON: the scanner runs only after `JSON.parse` succeeded.
 */

/** [what, JSON text, the key reported or undefined] */
const CASES: readonly (readonly [string, string, string | undefined])[] = [
  ['a flat object with unique keys', '{"a":1,"b":2,"c":3}', undefined],
  ['a key given twice', '{"employee":"mallory","employee":"bob"}', 'employee'],
  ['the same key, one escaped as \\u', '{"employee":1,"\\u0065mployee":2}', 'employee'],
  ['the same key, both escaped differently', '{"\\u0061":1,"\\u0061":2}', 'a'],
  ['an escaped quote in a key', '{"a\\"b":1,"a\\"b":2}', 'a"b'],
  ['keys that differ only after an escape', '{"a\\"b":1,"a\\\\":2}', undefined],
  ['an escaped solidus is the same key', '{"a/b":1,"a\\/b":2}', 'a/b'],
  ['a repeated key in a nested object', '{"x":{"y":{"k":1,"k":2}}}', 'k'],
  ['the same key in sibling objects is fine', '{"x":{"k":1},"y":{"k":2},"k":3}', undefined],
  ['the same key in objects of an array is fine', '[{"id":1},{"id":2},{"id":3}]', undefined],
  ['a repeated key in an object inside an array', '[{"id":1},{"id":2,"n":0,"id":3}]', 'id'],
  ['an object after an array in the same object', '{"a":[1,{"b":1}],"b":2,"a":3}', 'a'],
  ['string values holding quotes, colons, commas and braces', '{"a":"\\",\\"a\\":1","b":"{\\"b\\":2}, c: d","c":"x\\\\"}', undefined],
  ['a string value ending in an escaped backslash before the next key', '{"a":"\\\\","a":1}', 'a'],
  ['an array of strings that look like keys', '{"a":["a","a",":"],"b":1}', undefined],
  ['whitespace everywhere', ' { "a" : 1 ,\n\t"a" : 2 } ', 'a'],
  ['not an object at all', '"a"', undefined],
  ['empty containers', '{"a":{},"b":[],"c":[{}]}', undefined],
  ['a key named __proto__ twice', '{"__proto__":1,"__proto__":2}', '__proto__'],
  ['a non-ASCII key twice, raw and escaped', '{"é":1,"\\u00e9":2}', 'é'],
  ['a key longer than 64 characters is not reported in full', `{"${'k'.repeat(80)}":1,"${'k'.repeat(80)}":2}`, '[long key]'],
];

describe('findDuplicateKey', () => {
  for (const [what, text, expected] of CASES) {
    it(what, () => {
      JSON.parse(text); // every case is valid JSON
      assert.equal(findDuplicateKey(text), expected);
    });
  }

  it('is linear: a 1 MiB body of many small objects is scanned once', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `n${i}`, tags: ['a', 'b'] }));
    const text = JSON.stringify({ items });
    assert.equal(findDuplicateKey(text), undefined);
    assert.equal(findDuplicateKey(text.replace('"name":"n19999"', '"name":"n19999","id":0')), 'id');
  });
});
