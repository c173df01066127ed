import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startRecordingBackend, type RecordingBackend } from '../e2e/harness.js';
import { startFeatureUpstream, type FeatureUpstream } from '../mcp/upstreams/feature-server.js';
import { send } from './fixtures.js';
import { everyBackendKind, startRouteGateway, type RouteGateway } from './route-gateway.js';

// W3C trace context through the real gateway: the caller's trace is kept (the gateway's own
// span in between), a malformed one is replaced, a client cannot smuggle its own to a backend,
// and the audit record says which trace and span the request was.

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';
const CALLER = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;
const SENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

let backend: RecordingBackend;
let upstream: FeatureUpstream;
let gw: RouteGateway;

before(async () => {
  backend = await startRecordingBackend();
  upstream = await startFeatureUpstream();
  const kinds = everyBackendKind(backend.url, upstream.url);
  gw = await startRouteGateway({
    routes: [{ id: 'hr', path: '/api/hr', upstream: `${backend.url}/v1` }, ...kinds.routes],
    tools: kinds.tools,
    upstreams: kinds.upstreams,
  });
});
after(async () => {
  await gw?.close();
  await upstream?.stop();
  await backend?.close();
});

/** The one traceparent a backend got, parsed. */
function sentTrace(value: string | string[] | undefined): { traceId: string; spanId: string; flags: string } {
  assert.equal(typeof value, 'string', 'exactly one traceparent');
  const m = SENT.exec(value as string);
  assert.ok(m, `a well-formed traceparent: ${String(value)}`);
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
}

describe('trace context on the HTTP door', () => {
  it("keeps the caller's trace, sends the gateway's span as parent, passes tracestate, and records the ids", async () => {
    const reply = await send(gw.url, { path: '/api/hr/reviews/bob', headers: { ...(await gw.auth()), traceparent: CALLER, tracestate: 'rojo=00f067aa0ba902b7' } });
    assert.equal(reply.status, 200);
    const seen = backend.seen.at(-1)!;
    const sent = sentTrace(seen.headers['traceparent']);
    assert.equal(sent.traceId, CALLER_TRACE);
    assert.notEqual(sent.spanId, CALLER_SPAN);
    assert.equal(sent.flags, '01');
    assert.equal(seen.headers['tracestate'], 'rojo=00f067aa0ba902b7');
    const record = await gw.recordOf(String(reply.headers['x-request-id']));
    assert.equal(record.traceId, CALLER_TRACE);
    assert.equal(record.spanId, sent.spanId, 'the record names the span the backend saw as its parent');
    assert.equal(record.parentSpanId, CALLER_SPAN);
  });

  it('starts a new trace for a request without one, and for a malformed or doubled one, never forwarding the bad value', async () => {
    const auth = await gw.auth();
    const cases: Record<string, string>[] = [
      {},
      { traceparent: '00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01', tracestate: 'smuggled=1' },
      { traceparent: `${CALLER}, 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01` },
      { traceparent: `00-${'0'.repeat(32)}-${CALLER_SPAN}-01` },
    ];
    const traces = new Set<string>();
    for (const extra of cases) {
      const reply = await send(gw.url, { path: '/api/hr/reviews/bob', headers: { ...auth, ...extra } });
      assert.equal(reply.status, 200);
      const seen = backend.seen.at(-1)!;
      const sent = sentTrace(seen.headers['traceparent']);
      assert.notEqual(sent.traceId, CALLER_TRACE);
      assert.equal(seen.headers['tracestate'], undefined, 'no tracestate without a valid traceparent');
      const record = await gw.recordOf(String(reply.headers['x-request-id']));
      assert.equal(record.traceId, sent.traceId);
      assert.equal(record.spanId, sent.spanId);
      assert.equal(record.parentSpanId, undefined);
      traces.add(sent.traceId);
    }
    assert.equal(traces.size, cases.length, 'one new trace per request');
  });

  it('records the trace of a denied request too', async () => {
    const reply = await send(gw.url, { path: '/api/hr/reviews/bob', headers: { traceparent: CALLER } });
    assert.equal(reply.status, 401);
    const record = await gw.recordOf(String(reply.headers['x-request-id']));
    assert.equal(record.decision, 'deny');
    assert.equal(record.traceId, CALLER_TRACE);
    assert.equal(record.parentSpanId, CALLER_SPAN);
  });
});

describe('trace context on the MCP door', () => {
  it("reaches a config tool's backend in the header, and an upstream MCP server in the POST's header and params._meta", async () => {
    const client = new Client({ name: 'trace-propagation', version: '1.0.0' });
    const headers = { ...(await gw.auth({ audience: `${gw.publicUrl}/mcp` })), traceparent: CALLER };
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers } }));
    try {
      const deadline = Date.now() + 10_000;
      while (!(await client.listTools()).tools.some((t) => t.name === 'hr.chatty')) {
        if (Date.now() > deadline) throw new Error('the upstream tool was not listed within 10 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      const tool = await client.callTool({ name: 'get_review', arguments: { employee: 'bob' } });
      assert.notEqual(tool.isError, true, JSON.stringify(tool));
      const toolSeen = backend.seen.find((r) => r.url === '/reviews/bob');
      assert.ok(toolSeen);
      const toolSent = sentTrace(toolSeen.headers['traceparent']);
      assert.equal(toolSent.traceId, CALLER_TRACE);

      const result = await client.callTool({ name: 'hr.chatty', arguments: { note: 'trace' } });
      assert.notEqual(result.isError, true, JSON.stringify(result));
      const call = upstream.received.find((r) => r.method === 'tools/call');
      assert.ok(call, 'the upstream got the call');
      const header = sentTrace(call.headers['traceparent']);
      const meta = call.params['_meta'] as Record<string, unknown> | undefined;
      assert.equal(meta?.['traceparent'], call.headers['traceparent'], 'params._meta.traceparent is the header one');
      assert.equal(header.traceId, CALLER_TRACE);
      assert.notEqual(header.spanId, toolSent.spanId, 'each request is a span of its own');

      const record = await gw.recordOf((r) => r.tool === 'hr.chatty');
      assert.equal(record.traceId, CALLER_TRACE);
      assert.equal(record.spanId, header.spanId);
      assert.equal(record.parentSpanId, CALLER_SPAN);

      const read = await client.readResource({ uri: 'hr://reviews/bob' });
      assert.ok(read.contents.length > 0);
      const relayed = upstream.received.find((r) => r.method === 'resources/read');
      assert.ok(relayed);
      assert.equal(sentTrace((relayed.params['_meta'] as Record<string, string>)['traceparent']).traceId, CALLER_TRACE, 'a relayed request carries it in _meta too');
    } finally {
      await client.close();
    }
  });

  it("adopts a valid params._meta.traceparent (MCP's convention) when the request has no traceparent header", async () => {
    const client = new Client({ name: 'trace-meta', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: await gw.auth({ audience: `${gw.publicUrl}/mcp` }) } }));
    try {
      const metaTrace = '5bf92f3577b34da6a3ce929d0e0e4736';
      const before = backend.seen.length;
      const tool = await client.callTool({ name: 'get_review', arguments: { employee: 'carol' }, _meta: { traceparent: `00-${metaTrace}-${CALLER_SPAN}-01`, tracestate: 'congo=t61rcWkgMzE' } });
      assert.notEqual(tool.isError, true, JSON.stringify(tool));
      const seen = backend.seen.slice(before).find((r) => r.url === '/reviews/carol');
      assert.ok(seen);
      assert.equal(sentTrace(seen.headers['traceparent']).traceId, metaTrace);
      assert.equal(seen.headers['tracestate'], 'congo=t61rcWkgMzE');
      const record = await gw.recordOf((r) => r.tool === 'get_review' && r.traceId === metaTrace);
      assert.equal(record.parentSpanId, CALLER_SPAN);

      await client.callTool({ name: 'get_review', arguments: { employee: 'dave' }, _meta: { traceparent: 'garbage' } });
      const other = backend.seen.find((r) => r.url === '/reviews/dave');
      assert.ok(other);
      assert.notEqual(sentTrace(other.headers['traceparent']).traceId, metaTrace, 'an invalid _meta value starts a new trace');
    } finally {
      await client.close();
    }
  });
});
