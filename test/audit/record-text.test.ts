import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { checkLink, parseStoredLine, sealRecord } from '../../src/audit/chain.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { compileKeep, keepArguments, keepQuery } from '../../src/audit/kept-values.js';
import { recordMembersText } from '../../src/audit/record-text.js';
import { readQuery } from '../../src/lib/canonical-query.js';
import { canonicalJson } from '../../src/lib/canonical-json.js';
import { sampleRecords } from './record-samples.js';

/** The stored line of `rec` sealed after (`prevSeq`, `prevHash`) by the generic rules of chain.ts, written out again. */
function referenceLine(rec: Record<string, unknown>, prevSeq: number, prevHash: string): { text: string; hash: string; line: string } {
  const { seq: _s, prev: _p, hash: _h, ...rest } = rec;
  const text = canonicalJson({ ...rest, seq: prevSeq + 1, prev: prevHash });
  const hash = createHash('sha256').update(text, 'utf8').digest('hex');
  return { text, hash, line: `${text.slice(0, -1)},"hash":"${hash}"}` };
}

test('the record serializer writes the generic canonical JSON byte for byte (3000 seeded records of every kind)', () => {
  let prevHash = '';
  const samples = sampleRecords(3000);
  for (let i = 0; i < samples.length; i++) {
    const rec = samples[i]!;
    const want = referenceLine(rec, i, prevHash);
    const sealed = sealRecord(rec as unknown as AuditRecord, i, prevHash);
    assert.equal(`{${recordMembersText(rec, i + 1, prevHash)}}`, want.text, `sample ${i}`);
    assert.equal(sealed.line, want.line, `sample ${i}`);
    assert.equal(sealed.hash, want.hash, `sample ${i}`);
    assert.equal(sealed.seq, i + 1);
    prevHash = sealed.hash;
  }
});

test('sealing gives the very lines the implementation before the serializer wrote (vectors)', async () => {
  const vectors = JSON.parse(await readFile(new URL('./vectors/sealed-lines.json', import.meta.url), 'utf8')) as { lines: string[] };
  const samples = sampleRecords(vectors.lines.length, 2026);
  assert.equal(vectors.lines.length, 40);
  let prevHash = '';
  for (let i = 0; i < samples.length; i++) {
    const sealed = sealRecord(samples[i] as unknown as AuditRecord, i, prevHash);
    assert.equal(sealed.line, vectors.lines[i], `vector ${i}`);
    prevHash = sealed.hash;
  }
});

test('every sealed sample parses back and verifies as a link of its chain', () => {
  let prevHash = '';
  const samples = sampleRecords(500, 7);
  for (let i = 0; i < samples.length; i++) {
    const sealed = sealRecord(samples[i] as unknown as AuditRecord, i, prevHash);
    const parsed = parseStoredLine(sealed.line);
    assert.ok(typeof parsed !== 'string', `sample ${i}: ${String(parsed)}`);
    assert.equal(checkLink(parsed, i, prevHash), 'ok', `sample ${i}`);
    prevHash = sealed.hash;
  }
});

test('one record changes its text only through its values, whatever shape was seen before', () => {
  const a = { time: 't', requestId: 'r', door: 'http', method: 'GET', path: '/p', decision: 'allow', reason: 'ok', status: 200, latencyMs: 1 };
  const b = { status: 200, latencyMs: 1, reason: 'ok', decision: 'allow', path: '/p', method: 'GET', door: 'http', requestId: 'r', time: 't' };
  const first = sealRecord(a as AuditRecord, 0, '');
  // More shapes than the serializer keeps plans for, then the first shape again.
  for (let i = 0; i < 20; i++) sealRecord({ ...a, [`extra${i}`]: i } as unknown as AuditRecord, 0, '');
  assert.equal(sealRecord(a as AuditRecord, 0, '').line, first.line);
  assert.equal(sealRecord(b as AuditRecord, 0, '').line, first.line);
  assert.equal(sealRecord({ ...a, user: 'é"\n\ud800' } as AuditRecord, 0, '').line.includes('"user":"é\\"\\n\\ud800"'), true);
});

test('the trace ids are part of the hashed text: a changed trace or span id breaks the link', () => {
  const rec = { time: 't', requestId: 'r', door: 'http', method: 'GET', path: '/p', decision: 'allow', reason: 'ok', status: 200, latencyMs: 1, traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', parentSpanId: '00f067aa0ba902b7' } as const;
  const sealed = sealRecord(rec as AuditRecord, 0, '');
  assert.equal(sealed.line, referenceLine(rec, 0, '').line);
  for (const field of ['traceId', 'spanId', 'parentSpanId'] as const) {
    const forged = { ...(parseStoredLine(sealed.line) as unknown as Record<string, unknown>), [field]: 'f'.repeat(field === 'traceId' ? 32 : 16) };
    assert.equal(checkLink(forged as never, 0, ''), 'hash-mismatch', field);
  }
});

test('records with kept arguments, query, omitted names, endTime and session: the serializer writes canonical JSON, and the chain covers them', () => {
  const STRINGS = ['bob', 'quote " \\ back', 'new\nline\u0000', 'lone \ud800 high', 'é日本😀', 'x'.repeat(300), 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.sig'];
  const argSets: Record<string, unknown>[] = [
    { employee: 'bob', year: 2026, final: true, note: null },
    { z: 1, a: 2, '10': 'ten', '2': 'two', é: 'e', '': 'empty', password: 'p' },
    { nested: { b: [1, 'x', null, { token: 't' }], a: { d: 'é', c: 1.5 } }, list: [3, 2, 1] },
    Object.fromEntries(STRINGS.map((s, i) => [`k${i}${s.slice(0, 3)}`, s])),
    JSON.parse('{"__proto__":"p","constructor":1}') as Record<string, unknown>,
  ];
  let prevHash = '';
  let i = 0;
  for (const mode of ['scalars', 'all', ['employee', 'nested', '10']] as const) {
    for (const args of argSets) {
      const kept = keepArguments(args, compileKeep(mode));
      const q = readQuery(`?employee=${encodeURIComponent(STRINGS[i % STRINGS.length]!.replace(/[\ud800-\udfff]/g, ''))}&Year=2026&t=1&t=2`, 'allow');
      assert.ok(q.ok);
      const query = keepQuery(q.query, compileKeep(mode, true));
      // The pipeline's shape (stage.ts): every field present, absent ones undefined.
      const rec = {
        time: '2026-12-06T10:00:00.000Z', requestId: `r${i}`, door: i % 2 === 0 ? 'mcp' : 'http', route: undefined, tool: 'hr.get_reviews', method: 'POST', path: '/mcp',
        user: 'alice', tenant: undefined, client: 'chatgpt', issuer: 'idp', decision: 'allow', reason: 'allowed-by-rule', ruleId: undefined, status: 200,
        upstreamStatus: undefined, latencyMs: 12.345, bytesIn: 10, bytesOut: 20, bodyDigest: undefined, detail: undefined, rpcMethod: 'tools/call',
        upstream: 'hr-mcp', resource: undefined, prompt: undefined, argsDigest: 'sha256:abc', resultError: undefined, phase: undefined,
        endTime: '2026-12-06T10:00:00.012Z', session: i % 3 === 0 ? undefined : 'sha256:0123456789abcdef',
        args: i % 2 === 0 ? kept?.values : undefined, query: i % 2 === 0 ? undefined : query?.values, omitted: (i % 2 === 0 ? kept : query)?.omitted,
      };
      const want = referenceLine(rec, i, prevHash);
      const sealed = sealRecord(rec as unknown as AuditRecord, i, prevHash);
      assert.equal(`{${recordMembersText(rec, i + 1, prevHash)}}`, want.text, `record ${i}`);
      assert.equal(sealed.line, want.line, `record ${i}`);
      const parsed = parseStoredLine(sealed.line);
      assert.ok(typeof parsed !== 'string');
      assert.equal(checkLink(parsed, i, prevHash), 'ok', `record ${i}`);
      // The hash covers what was kept: a changed argument value breaks the link.
      const kind = parsed.args !== undefined ? 'args' : 'query';
      const members = (parsed as unknown as Record<string, Record<string, unknown> | undefined>)[kind];
      if (members !== undefined && Object.keys(members).length > 0) {
        const name = Object.keys(members)[0]!;
        const edited = { ...parsed, [kind]: { ...members, [name]: 'mallory' } };
        assert.equal(checkLink(edited as typeof parsed, i, prevHash), 'hash-mismatch', `record ${i}`);
      }
      const forgedEnd = { ...parsed, endTime: '2026-12-06T10:00:09.000Z' };
      assert.equal(checkLink(forgedEnd, i, prevHash), 'hash-mismatch');
      prevHash = sealed.hash;
      i++;
    }
  }
  assert.equal(i, 15);
});
