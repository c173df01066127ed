import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { checkLink, computeRecordHash, parseStoredLine, sealRecord, storedRecord } from '../../src/audit/chain.js';
import { canonicalJson } from '../../src/lib/canonical-json.js';
import { rec } from './helpers.js';

test('canonical JSON sorts keys at every level, drops undefined and has no whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [true, null, undefined], c: 'x' }, z: undefined }), '{"a":{"c":"x","d":[true,null,null]},"b":1}');
  assert.equal(canonicalJson({ n: 1.5e-7, big: 1e21, nan: Number.NaN, s: 'é\n"' }), '{"big":1e+21,"n":1.5e-7,"nan":null,"s":"é\\n\\""}');
});

test('a sealed record hashes exactly the documented canonical text (independent re-computation)', () => {
  const sealed = sealRecord({ time: 't', requestId: 'r', door: 'http', method: 'GET', path: '/p', decision: 'allow', reason: 'allowed-by-rule', status: 200, latencyMs: 3 }, 41, 'ab'.repeat(32));
  const expectedText = `{"decision":"allow","door":"http","latencyMs":3,"method":"GET","path":"/p","prev":"${'ab'.repeat(32)}","reason":"allowed-by-rule","requestId":"r","seq":42,"status":200,"time":"t"}`;
  const expectedHash = createHash('sha256').update(expectedText).digest('hex');
  assert.equal(sealed.seq, 42);
  assert.equal(sealed.hash, expectedHash);
  assert.equal(sealed.line, `${expectedText.slice(0, -1)},"hash":"${expectedHash}"}`);
});

test('sealing ignores seq/prev/hash already on the input, and the stored line round-trips', () => {
  const forged = { ...rec(1), seq: 99, prev: 'x', hash: 'y' };
  const sealed = sealRecord(forged, 0, '');
  assert.equal(sealed.seq, 1);
  assert.equal(sealed.prev, '');
  const parsed = parseStoredLine(sealed.line);
  assert.ok(typeof parsed !== 'string');
  assert.equal(computeRecordHash(parsed as unknown as Record<string, unknown>), parsed.hash);
  assert.equal(checkLink(parsed, 0, ''), 'ok');
});

test('checkLink tells content edits from broken links', () => {
  const first = storedRecord(rec(1), sealRecord(rec(1), 0, ''));
  const second = storedRecord(rec(2), sealRecord(rec(2), 1, first.hash));
  assert.equal(checkLink(second, 1, first.hash), 'ok');
  assert.equal(checkLink({ ...second, user: 'mallory' }, 1, first.hash), 'hash-mismatch');
  assert.equal(checkLink(second, 2, first.hash), 'seq-mismatch');
  assert.equal(checkLink(second, 1, 'f'.repeat(64)), 'prev-mismatch');
});

test('lines that are not records are named, not thrown', () => {
  assert.equal(parseStoredLine('{nope'), 'not valid JSON');
  assert.equal(parseStoredLine('[1]'), 'not a JSON object');
  assert.match(parseStoredLine('{"seq":0,"prev":"","hash":"x"}') as string, /seq/);
  assert.match(parseStoredLine('{"seq":1,"prev":"","hash":"x"}') as string, /hash/);
});
