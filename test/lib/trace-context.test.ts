import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parseTraceparent, traceOf, validTracestate } from '../../src/lib/trace-context.js';

interface Vectors {
  valid: { value: string; traceId: string; parentId: string; flags: string; why: string }[];
  invalid: { value: string; why: string }[];
  tracestate: { valid: string[]; invalid: string[] };
}
const vectors = JSON.parse(await readFile(new URL('../vectors/trace-context/traceparent.json', import.meta.url), 'utf8')) as Vectors;

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

describe('traceparent (test/vectors/trace-context/traceparent.json)', () => {
  for (const v of vectors.valid) {
    it(`keeps ${v.why}`, () => {
      assert.deepEqual(parseTraceparent(v.value), { traceId: v.traceId, parentId: v.parentId, flags: v.flags });
      const trace = traceOf({ traceparent: v.value, tracestate: 'rojo=00f067aa0ba902b7' });
      assert.equal(trace.traceId, v.traceId);
      assert.equal(trace.parentSpanId, v.parentId);
      assert.match(trace.spanId, HEX16);
      assert.notEqual(trace.spanId, v.parentId, 'the gateway is a hop of its own');
      assert.equal(trace.traceparent, `00-${v.traceId}-${trace.spanId}-${v.flags}`, 'sent on as version 00 with the gateway span as parent');
      assert.equal(trace.state, 'rojo=00f067aa0ba902b7');
    });
  }
  for (const v of vectors.invalid) {
    it(`ignores ${v.why}`, () => {
      assert.equal(parseTraceparent(v.value), undefined);
      const trace = traceOf({ traceparent: v.value, tracestate: 'rojo=00f067aa0ba902b7' });
      assert.match(trace.traceId, HEX32);
      assert.ok(!v.value.includes(trace.traceId), 'a new trace, not a repaired one');
      assert.equal(trace.parentSpanId, undefined);
      assert.equal(trace.state, undefined, 'a tracestate without a valid traceparent is dropped too');
      assert.match(trace.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    });
  }
  it('starts a new trace, with a new span, per request without one', () => {
    const a = traceOf({});
    const b = traceOf({});
    assert.match(a.traceId, HEX32);
    assert.notEqual(a.traceId, b.traceId);
    assert.notEqual(a.spanId, b.spanId);
    assert.equal(a.flags, '01');
  });
  it('refuses an array (node gives one for no header it joins, but a caller of the module may)', () => {
    assert.equal(parseTraceparent([vectors.valid[0]!.value]), undefined);
  });
});

describe('tracestate', () => {
  for (const value of vectors.tracestate.valid) it(`keeps ${JSON.stringify(value)}`, () => assert.equal(validTracestate(value), value));
  for (const value of vectors.tracestate.invalid) it(`drops ${JSON.stringify(value)}`, () => assert.equal(validTracestate(value), undefined));
  it('drops more than 32 members and more than 512 characters', () => {
    assert.equal(validTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')), undefined);
    assert.equal(validTracestate(Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(',')) !== undefined, true);
    assert.equal(validTracestate(`k=${'v'.repeat(511)}`), undefined);
  });
});
