import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sealRecord, type SealedRecord } from '../../src/audit/chain.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { openAuditSinks, type AuditSinks } from '../../src/audit/sinks.js';
import { auditSinksSchema } from '../../src/config/schema-sinks.js';
import { retryAfterMs } from '../../src/audit/webhook-sink.js';
import { rec } from './helpers.js';
import { startSinkReceiver, type SinkReceiver } from './sink-receiver.js';

// The webhook sink against a real HTTP receiver on 127.0.0.1: batches of JSON lines, retries on
// 5xx and 429 (with Retry-After), a bounded queue that drops the oldest, a bounded drain.

/** `n` records chained after `from`, as the store hands them to the sinks. */
function chain(n: number, from = 0): { records: AuditRecord[]; sealed: SealedRecord[] } {
  const records: AuditRecord[] = [];
  const sealed: SealedRecord[] = [];
  let hash = '';
  for (let i = 0; i < from + n; i++) {
    const r = rec(i + 1);
    const s = sealRecord(r, i, hash);
    hash = s.hash;
    if (i >= from) {
      records.push(r);
      sealed.push(s);
    }
  }
  return { records, sealed };
}

const open: (AuditSinks | SinkReceiver)[] = [];
after(async () => {
  for (const x of open.splice(0)) await x.close();
});

async function setup(sink: Record<string, unknown>): Promise<{ receiver: SinkReceiver; sinks: AuditSinks }> {
  const receiver = await startSinkReceiver();
  open.push(receiver);
  const sinks = await openAuditSinks(auditSinksSchema.parse([{ type: 'webhook', url: receiver.url, ...sink }]), { random: () => 0.5 });
  open.push(sinks);
  return { receiver, sinks };
}

/** Waits until the sink has seen the receiver's answer to `n` records (the receiver counts them before it answers). */
async function sentBy(sinks: AuditSinks, n: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (sinks.sinks[0]!.status().sent < n) {
    if (Date.now() > deadline) throw new Error(`the sink did not see ${n} records accepted`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const feed = (sinks: AuditSinks, c: { records: AuditRecord[]; sealed: SealedRecord[] }) => sinks.onWritten(c.records, c.sealed);

describe('the webhook audit sink', () => {
  it('posts batches of at most batchMaxRecords stored lines as application/x-ndjson, in order, with the configured headers', async () => {
    const { receiver, sinks } = await setup({ batchMaxRecords: 10, flushMs: 20, headers: { Authorization: 'Bearer siem-secret' } });
    const c = chain(25);
    feed(sinks, c);
    const got = await receiver.waitForAccepted(25);
    await sentBy(sinks, 25);
    assert.deepEqual(got.map((r) => r['seq']), c.sealed.map((s) => s.seq));
    assert.deepEqual(got.map((r) => r['hash']), c.sealed.map((s) => s.hash), 'each line carries its hash, for dedupe');
    assert.deepEqual(receiver.batches.map((b) => b.lines.length), [10, 10, 5]);
    for (const b of receiver.batches) {
      assert.equal(b.headers['content-type'], 'application/x-ndjson');
      assert.equal(b.headers['authorization'], 'Bearer siem-secret');
    }
    assert.equal(receiver.batches[0]!.lines[0], c.sealed[0]!.line, 'the line is the stored line, byte for byte');
    assert.deepEqual(sinks.sinks[0]!.status(), { queued: 0, dropped: 0, sent: 25, failing: undefined });
  });

  it('sends a batch that is not full after flushMs', async () => {
    const { receiver, sinks } = await setup({ batchMaxRecords: 100, flushMs: 50 });
    feed(sinks, chain(3));
    await receiver.waitForAccepted(3);
    assert.equal(receiver.batches.length, 1);
  });

  it('retries a batch answered 503, then 502 (with backoff), then delivers it once accepted', async () => {
    const { receiver, sinks } = await setup({ batchMaxRecords: 5, flushMs: 0, retryMinMs: 20, retryMaxMs: 40 });
    receiver.answers = [{ status: 503 }, { status: 502 }];
    feed(sinks, chain(5));
    const got = await receiver.waitForAccepted(5);
    assert.equal(receiver.batches.length, 3, 'two failures, then the accepted attempt');
    assert.deepEqual(receiver.batches.map((b) => b.lines), [receiver.batches[0]!.lines, receiver.batches[0]!.lines, receiver.batches[0]!.lines], 'the same batch each time');
    assert.equal(got.length, 5);
    await sentBy(sinks, 5);
    assert.equal(sinks.sinks[0]!.status().failing, undefined, 'recovered');
  });

  it("honours a 429's Retry-After over its own shorter backoff", async () => {
    const { receiver, sinks } = await setup({ batchMaxRecords: 2, flushMs: 0, retryMinMs: 10, retryMaxMs: 20 });
    receiver.answers = [{ status: 429, headers: { 'retry-after': '1' } }];
    feed(sinks, chain(2));
    await receiver.waitForAccepted(2, 5_000);
    const [first, second] = receiver.batches;
    assert.ok(second!.at - first!.at >= 950, `the retry waited ${second!.at - first!.at} ms, not the 1 s the receiver asked for`);
    await sentBy(sinks, 2);
    assert.equal(sinks.sinks[0]!.status().failing, undefined, 'recovered');
  });

  it('drops a batch the receiver refuses for good (400) and counts it, then goes on', async () => {
    const { receiver, sinks } = await setup({ batchMaxRecords: 3, flushMs: 0 });
    receiver.answers = [{ status: 400 }];
    const c = chain(6);
    feed(sinks, { records: c.records.slice(0, 3), sealed: c.sealed.slice(0, 3) });
    const deadline = Date.now() + 2_000;
    while (sinks.sinks[0]!.status().dropped === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    feed(sinks, { records: c.records.slice(3), sealed: c.sealed.slice(3) });
    const got = await receiver.waitForAccepted(3);
    assert.deepEqual(got.map((r) => r['seq']), [4, 5, 6]);
    assert.equal(sinks.sinks[0]!.status().dropped, 3);
  });

  it('when the queue is full, drops the oldest unsent records and counts them, without blocking the caller', async () => {
    const { receiver, sinks } = await setup({ batchMaxRecords: 5, flushMs: 0, maxQueue: 10, timeoutMs: 60_000 });
    receiver.answers = ['hang'];
    const c = chain(5);
    feed(sinks, c); // the first batch goes out and hangs
    const deadline = Date.now() + 2_000;
    while (receiver.batches.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const more = chain(30, 5);
    const started = process.hrtime.bigint();
    feed(sinks, more);
    const spentMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(spentMs < 50, `offering 30 records took ${spentMs} ms`);
    const status = sinks.sinks[0]!.status();
    assert.equal(status.dropped, 20, '30 offered into a queue of 10: the 20 oldest dropped');
    assert.equal(status.queued, 15, 'the batch in flight and a full queue');
    receiver.release(); // the hanging batch fails (connection reset) and is retried; then the newest 10 follow
    const got = await receiver.waitForAccepted(15, 10_000);
    const seqs = got.map((r) => r['seq']);
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35], 'the in-flight batch, then the newest records');
  });

  it('drains what is queued on close, and gives up within the bound when the receiver is down', async () => {
    const { receiver, sinks } = await setup({ batchMaxRecords: 100, flushMs: 60_000 });
    feed(sinks, chain(7));
    await sinks.close(2_000);
    assert.equal(receiver.accepted().length, 7, 'queued records were sent on close although flushMs had not passed');

    const down = await openAuditSinks(auditSinksSchema.parse([{ type: 'webhook', url: 'http://127.0.0.1:9/ingest', flushMs: 60_000, retryMinMs: 10, retryMaxMs: 20 }]));
    feed(down, chain(4));
    const started = Date.now();
    await down.close(300);
    assert.ok(Date.now() - started < 2_000, 'the drain is bounded');
    assert.equal(down.sinks[0]!.status().dropped, 4);
    assert.equal(down.sinks[0]!.status().queued, 0);
  });

  it('refuses headers the sink sets itself, and two sinks with one name', () => {
    assert.equal(auditSinksSchema.safeParse([{ type: 'webhook', url: 'http://x.test', headers: { 'Content-Type': 'text/plain' } }]).success, false);
    assert.equal(auditSinksSchema.safeParse([{ type: 'webhook', url: 'http://x.test', headers: { 'X-Token': 'a\r\nb' } }]).success, false);
    assert.equal(auditSinksSchema.safeParse([{ type: 'webhook', url: 'http://x.test', name: 'siem' }, { type: 'webhook', url: 'http://y.test', name: 'siem' }]).success, false);
    assert.equal(auditSinksSchema.safeParse([{ type: 'webhook', url: 'http://user:pw@x.test' }]).success, false, 'credentials in the URL');
  });

  it('reads Retry-After as seconds or an HTTP date, and ignores anything else', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    assert.equal(retryAfterMs('120', now), 120_000);
    assert.equal(retryAfterMs(' 0 ', now), 0);
    assert.equal(retryAfterMs('Sun, 06 Dec 2026 12:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMs('Sun, 06 Dec 2026 11:00:00 GMT', now), 0, 'a date in the past: at once');
    assert.equal(retryAfterMs('-5', now), undefined);
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs(undefined, now), undefined);
  });
});

