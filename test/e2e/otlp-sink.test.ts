import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readAuditTrail } from '../audit/helpers.js';
import { startOtlpReceiver, type OtlpReceiver } from '../audit/otlp-receiver.js';
import { startAnyoneGateway, useAliceFixture } from './harness.js';

// A real gateway with an otlp sink and an OTLP/HTTP (JSON) receiver on 127.0.0.1: each request
// becomes one log record and one span of the caller's trace, with the record's attributes and
// never the token.

const fx = useAliceFixture('behalf-otlp-sink-');
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

describe('a gateway with an otlp audit sink', () => {
  it('exports a log record per audit record and a span per request, with the right ids, times and attributes', async () => {
    const receiver: OtlpReceiver = await startOtlpReceiver();
    closers.push(() => receiver.close());
    const gw = await startAnyoneGateway(fx, 'otlp', {
      store: join(fx.dir, 'otlp', 'audit'),
      sinks: [{ type: 'otlp', name: 'collector', endpoint: receiver.endpoint, headers: { 'x-collector-key': 'k-123' }, flushMs: 20, serviceName: 'behalf-test' }],
    });
    closers.push(() => gw.gateway.close());
    const token = await fx.idp.mint('alice');
    const ok = await fetch(`${gw.url}/api/reviews/bob?year=2026`, { headers: { authorization: `Bearer ${token}`, traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const denied = await fetch(`${gw.url}/api/reviews/bob`);
    assert.equal(denied.status, 401);
    await denied.arrayBuffer();

    await receiver.waitFor(() => receiver.logs.length >= 2 && receiver.spans.length >= 2);
    const trail = await readAuditTrail({ store: join(fx.dir, 'otlp', 'audit') }, join(fx.dir, 'otlp'));
    assert.equal(trail.length, 2);
    const [okRecord, deniedRecord] = trail as [(typeof trail)[0], (typeof trail)[0]];

    for (const r of receiver.requests) {
      assert.equal(r.headers['x-collector-key'], 'k-123');
      assert.match(String(r.headers['content-type']), /^application\/json/);
    }
    assert.deepEqual(new Set(receiver.requests.map((r) => r.path)), new Set(['/v1/logs', '/v1/traces']));

    const log = receiver.logs.find((l) => l.attributes['behalf.request_id'] === okRecord.requestId);
    assert.ok(log, 'a log record for the allowed request');
    assert.equal(log.resource['service.name'], 'behalf-test');
    assert.equal(log.traceId, CALLER_TRACE);
    assert.equal(log.spanId, okRecord.spanId);
    assert.equal(log.severityText, 'INFO');
    assert.equal(log.body, `allow ${okRecord.reason}`);
    assert.equal(log.timeUnixNano, String(BigInt(Date.parse(okRecord.time)) * 1_000_000n));
    assert.deepEqual(
      { ...log.attributes, 'behalf.latency_ms': undefined },
      {
        'behalf.door': 'http',
        'behalf.decision': 'allow',
        'behalf.reason': okRecord.reason,
        'behalf.request_id': okRecord.requestId,
        'http.request.method': 'GET',
        'url.path': '/api/reviews/bob?year=',
        'http.response.status_code': 200,
        'behalf.latency_ms': undefined,
        'behalf.audit.seq': okRecord.seq,
        'behalf.audit.hash': okRecord.hash,
        'behalf.user': 'alice',
        'behalf.client': okRecord.client,
        'behalf.route': 'api',
        'behalf.rule_id': 'anyone',
        'behalf.upstream_status': 200,
      },
    );
    assert.equal(log.attributes['behalf.latency_ms'], okRecord.latencyMs);
    assert.equal(okRecord.tenant, undefined, 'this issuer names no tenant, so none is exported');

    const span = receiver.spans.find((s) => s.attributes['behalf.request_id'] === okRecord.requestId);
    assert.ok(span, 'a span for the allowed request');
    assert.equal(span.traceId, CALLER_TRACE);
    assert.equal(span.spanId, okRecord.spanId);
    assert.equal(span.parentSpanId, CALLER_SPAN, "the caller's span is the parent");
    assert.equal(span.kind, 2, 'SPAN_KIND_SERVER');
    assert.equal(span.name, 'http api');
    assert.equal(span.status.code ?? 0, 0, 'unset for an allowed 200');
    assert.equal(span.startTimeUnixNano, String(BigInt(Date.parse(okRecord.time)) * 1_000_000n));
    assert.ok(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano));

    const deniedSpan = receiver.spans.find((s) => s.attributes['behalf.request_id'] === deniedRecord.requestId);
    assert.ok(deniedSpan);
    assert.equal(deniedSpan.status.code, 2, 'ERROR for a denial');
    assert.equal(deniedSpan.traceId, deniedRecord.traceId, 'a new trace for a request without traceparent');
    assert.equal(deniedSpan.parentSpanId, '');
    const deniedLog = receiver.logs.find((l) => l.attributes['behalf.request_id'] === deniedRecord.requestId);
    assert.equal(deniedLog?.severityText, 'WARN');
    assert.equal(deniedLog?.attributes['behalf.user'], undefined, 'no user for an unauthenticated request');

    const everything = JSON.stringify([receiver.logs, receiver.spans]);
    assert.ok(!everything.includes(token), 'the token is never exported');
  });

  it('retries an export the collector refused with 503', async () => {
    const receiver = await startOtlpReceiver();
    closers.push(() => receiver.close());
    receiver.failNext = [503, 503];
    const gw = await startAnyoneGateway(fx, 'otlp-retry', { store: join(fx.dir, 'otlp-retry', 'audit'), sinks: [{ type: 'otlp', endpoint: receiver.endpoint, signals: ['logs'], flushMs: 0 }] });
    closers.push(() => gw.gateway.close());
    const res = await fetch(`${gw.url}/api/reviews/bob`, { headers: { authorization: `Bearer ${await fx.idp.mint('alice')}` } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    await receiver.waitFor(() => receiver.logs.length === 1, 20_000);
    assert.ok(receiver.requests.length >= 3, 'two refusals, then the accepted export');
    assert.equal(receiver.spans.length, 0, 'signals: [logs] sends no spans');
  });
});
