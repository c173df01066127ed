import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import { startSinkReceiver, type SinkReceiver } from '../audit/sink-receiver.js';
import { startAnyoneGateway, useAliceFixture } from './harness.js';
import { readAuditTrail } from '../audit/helpers.js';
import { join } from 'node:path';

// A real gateway with a webhook sink: every record of the trail reaches the receiver as its
// stored line (no token), and the gateway keeps answering at full speed while the receiver is
// down or hangs, dropping the oldest copies (counted) rather than holding a request.

const fx = useAliceFixture('behalf-audit-sink-');
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function gatewayWith(name: string, sink: Record<string, unknown>) {
  const gw = await startAnyoneGateway(fx, name, { store: join(fx.dir, name, 'audit'), sinks: [{ type: 'webhook', name: 'siem', ...sink }] });
  closers.push(() => gw.gateway.close());
  const token = await fx.idp.mint('alice');
  const get = async (path: string) => {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res;
  };
  return { ...gw, token, get };
}

const metricValue = (text: string, name: string): number => {
  const m = new RegExp(`^${name}\\{sink="siem"\\} (\\S+)$`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
};

describe('a gateway with a webhook audit sink', () => {
  it('copies every record of the trail, as stored, without the token', async () => {
    const receiver: SinkReceiver = await startSinkReceiver();
    closers.push(() => receiver.close());
    const gw = await gatewayWith('copies', { url: receiver.url, flushMs: 20, headers: { authorization: 'Bearer siem-token' } });
    for (let i = 0; i < 5; i++) assert.equal((await gw.get(`/api/reviews/${i}`)).status, 200);
    assert.equal((await fetch(`${gw.url}/api/reviews/x`)).status, 401);
    const got = await receiver.waitForAccepted(6);
    const trail = await readAuditTrail({ store: join(fx.dir, 'copies', 'audit') }, join(fx.dir, 'copies'));
    assert.deepEqual(got.map((r) => r['hash']), trail.map((r) => r.hash), 'the same records, in order, with their hashes');
    assert.deepEqual(got.map((r) => r['seq']), trail.map((r) => r.seq));
    assert.equal(got.at(-1)!['decision'], 'deny');
    assert.match(String(got[0]!['traceId']), /^[0-9a-f]{32}$/);
    for (const b of receiver.batches) {
      assert.ok(!b.lines.join('\n').includes(gw.token), 'the user token never reaches the sink');
      assert.equal(b.headers['authorization'], 'Bearer siem-token');
    }
    // The receiver counts a batch before it answers; the sink counts it once it has the answer.
    let metrics = '';
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
      metrics = await (await fetch(`${gw.url}/metrics`)).text();
      if (metricValue(metrics, 'behalf_audit_sink_sent_total') === 6) break;
    }
    assert.equal(metricValue(metrics, 'behalf_audit_sink_sent_total'), 6);
    assert.equal(metricValue(metrics, 'behalf_audit_sink_dropped_total'), 0);
  });

  it('keeps answering while the receiver hangs, drops the oldest copies when the queue is full, and says so', async () => {
    const receiver = await startSinkReceiver();
    closers.push(() => receiver.close());
    receiver.otherwise = 'hang';
    const gw = await gatewayWith('hangs', { url: receiver.url, flushMs: 0, batchMaxRecords: 2, maxQueue: 5, timeoutMs: 60_000 });
    for (let i = 0; i < 20; i++) assert.equal((await gw.get(`/api/reviews/${i}`)).status, 200, 'the gateway answers while its sink hangs');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    // 20 records: the first batch (1 or 2 records) hangs in flight, 5 wait in the queue, the rest were dropped.
    const queued = metricValue(metrics, 'behalf_audit_sink_queued');
    assert.ok(queued === 6 || queued === 7, `queued ${queued}`);
    assert.equal(metricValue(metrics, 'behalf_audit_sink_dropped_total'), 20 - queued);
    const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
    assert.equal(ready.ready, true, 'a sink never makes the gateway unready');
    assert.match(ready.checks['audit-sink:siem']?.detail ?? '', /records dropped since start/);
    const trail = await readAuditTrail({ store: join(fx.dir, 'hangs', 'audit') }, join(fx.dir, 'hangs'));
    assert.equal(trail.length, 20, 'the trail holds every record: the sink is a copy');
  });

  it('keeps answering while the receiver is down', async () => {
    const port = await freePort();
    const gw = await gatewayWith('down', { url: `http://127.0.0.1:${port}/ingest`, flushMs: 0, batchMaxRecords: 1, retryMinMs: 50 });
    for (let i = 0; i < 10; i++) assert.equal((await gw.get(`/api/reviews/${i}`)).status, 200);
    const deadline = Date.now() + 3_000;
    let ready: { checks: Record<string, { ok: boolean; detail?: string }> } | undefined;
    while (Date.now() < deadline) {
      ready = (await (await fetch(`${gw.url}/readyz`)).json()) as typeof ready;
      if (ready?.checks['audit-sink:siem']?.detail !== undefined) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(ready?.checks['audit-sink:siem']?.detail ?? '', /delivery failing \(network error/);
    // The receiver comes up on that port: the queued copies arrive.
    const receiver = await startSinkReceiver(port);
    closers.push(() => receiver.close());
    const got = await receiver.waitForAccepted(10, 10_000);
    assert.deepEqual(got.map((r) => r['seq']), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
