import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DEFAULTS } from '../../src/config/defaults.js';
import { send, type Reply } from '../e2e/bounded-client.js';
import { messageOf, stateless } from '../mcp/door/wire.js';
import { useJsonFaultEnv } from './json-env.js';
import { nestedArrayText, nestedObjectText } from './raw-upstream.js';

/**
 * Issue 11 section 3, "Untrusted JSON depth", through a real gateway on 127.0.0.1: JSON nested
 * 2,520 levels in a config tool's arguments (9,865 for an upstream tool), 100,000 in a route
 * body, or an upstream result nested 50,000 levels, used to end in `RangeError: Maximum call
 * stack size exceeded` and a 500, the deep result recorded as `deny, pipeline fault` although
 * the upstream ran the call. Now each request is refused before anything recursive reads it,
 * with a 4xx / JSON-RPC -32602 (-32600 for the envelope) and a reason code, and audited; a deep
 * result becomes an `isError` result recorded as a call the tool ran. No reply is ever a 500.
 *
 * This does NOT measure time (bench/json-bounds.ts measures the event-loop block per request),
 * nor test the scanner's edge cases (test/lib/json-scan.test.ts does).
 */

const env = useJsonFaultEnv();
const replies: Reply[] = [];
const keep = async (reply: Promise<Reply>): Promise<Reply> => {
  const r = await reply;
  replies.push(r);
  return r;
};
const DEPTH = DEFAULTS.jsonMaxDepth;

after(() => {
  // Checked once more over everything sent, the /healthz polls included.
  assert.deepEqual(
    replies.filter((r) => r.status >= 500),
    [],
    'no request may end in a 5xx',
  );
});

/** The JSON-RPC error of a reply, asserting its HTTP status and code. */
function rpcError(reply: Reply, status: number, code: number): { message: string; data?: Record<string, unknown> } {
  assert.equal(reply.status, status, reply.body.slice(0, 300));
  const error = messageOf(reply)['error'] as { code: number; message: string; data?: Record<string, unknown> } | undefined;
  assert.ok(error !== undefined, `not an error: ${reply.body.slice(0, 300)}`);
  assert.equal(error.code, code, error.message);
  return error;
}

describe('a deep or large JSON body on an HTTP route', () => {
  for (const [what, body] of [
    ['objects nested 2,520 levels', `{"who":"bob","x":${nestedObjectText(2_520)}}`],
    ['arrays nested 100,000 levels', `{"who":"bob","x":${nestedArrayText(100_000)}}`],
    [`objects nested ${DEPTH + 1} levels (one past the bound)`, nestedObjectText(DEPTH + 1)],
  ] as const) {
    it(`${what}: 400 json-too-deep, never forwarded, audited`, async () => {
      const seen = env.backend.seen.length;
      const reply = await keep(env.postRoute(body));
      assert.equal(reply.status, 400, reply.body);
      assert.equal((JSON.parse(reply.body) as { error: string }).error, 'json-too-deep');
      assert.equal(env.backend.seen.length, seen, 'the backend was called');
      const record = await env.recordOf(reply);
      assert.equal(record?.decision, 'deny');
      assert.equal(record?.reason, 'json-too-deep');
      assert.equal(record?.status, 400);
      assert.equal(record?.detail, `JSON nested deeper than ${DEPTH} levels`);
    });
  }

  it(`a body nested exactly ${DEPTH} levels is decided on and forwarded`, async () => {
    const body = `{"who":"bob","x":${nestedObjectText(DEPTH - 1)}}`;
    const reply = await keep(env.postRoute(body));
    assert.equal(reply.status, 200, reply.body);
    assert.equal(env.backend.seen.at(-1)?.body.toString('utf8'), body);
    const mallory = await keep(env.postRoute(body.replace('"bob"', '"mallory"')));
    assert.equal(mallory.status, 403, 'the policy read the deep body');
  });

  it(`more than ${DEFAULTS.jsonMaxValues} values: 413 json-too-many-values, never forwarded, audited`, async () => {
    const seen = env.backend.seen.length;
    const reply = await keep(env.postRoute(JSON.stringify({ who: 'bob', items: Array.from({ length: DEFAULTS.jsonMaxValues }, (_, i) => i) })));
    assert.equal(reply.status, 413, reply.body);
    assert.equal((JSON.parse(reply.body) as { error: string }).error, 'json-too-many-values');
    assert.equal(env.backend.seen.length, seen);
    const record = await env.recordOf(reply);
    assert.equal(record?.reason, 'json-too-many-values');
    assert.equal(record?.status, 413);
  });
});

describe('deep or large tool arguments on the MCP door', () => {
  const tools = [
    ['a config tool', 'submit_tool', 2_520],
    ['an upstream tool', 'up.take', 9_865],
  ] as const;

  for (const [what, tool, depth] of tools) {
    const reached = () => (tool === 'up.take' ? env.upstream.calls.length : env.backend.seen.length);

    it(`${what}: arguments nested ${depth} levels are 400 -32602 json-too-deep, never called, audited`, async () => {
      const before = reached();
      const reply = await keep(env.callTool(tool, `{"x":${nestedObjectText(depth)}}`));
      const error = rpcError(reply, 400, -32602);
      assert.equal(error.data?.['reason'], 'json-too-deep');
      assert.equal(error.message, `Invalid params: nested deeper than ${DEPTH} levels`);
      assert.ok((messageOf(reply)['id'] as number) > 0, 'the answer carries the request id');
      assert.equal(reached(), before, 'the tool was called');
      const record = await env.recordOf(reply);
      assert.equal(record?.decision, 'deny');
      assert.equal(record?.reason, 'json-too-deep');
      assert.equal(record?.status, 400);
    });

    it(`${what}: arguments as deep as the bound allows are called`, async () => {
      // The message is level 1, params 2, arguments 3: the arguments may nest DEPTH - 2 levels.
      const before = reached();
      const reply = await keep(env.callTool(tool, nestedObjectText(DEPTH - 2)));
      assert.equal(reply.status, 200, reply.body.slice(0, 300));
      const result = messageOf(reply)['result'] as { isError?: boolean } | undefined;
      assert.ok(result !== undefined && result.isError !== true, reply.body.slice(0, 300));
      assert.equal(reached(), before + 1);
    });

    it(`${what}: arguments over maxArgumentBytes are -32602 arguments-too-large, never called, audited`, async () => {
      const before = reached();
      const args = JSON.stringify({ text: 'x'.repeat(DEFAULTS.toolMaxArgumentBytes) });
      const reply = await keep(env.callTool(tool, args));
      const error = rpcError(reply, 200, -32602);
      assert.match(error.message, new RegExp(`^Invalid arguments for tool ${tool.replace('.', '\\.')}: arguments are larger than the tool accepts \\(${DEFAULTS.toolMaxArgumentBytes} bytes\\)$`));
      assert.equal(reached(), before, 'the tool was called');
      const record = await env.recordOf(reply);
      assert.equal(record?.decision, 'deny');
      assert.equal(record?.reason, 'arguments-too-large');
      assert.equal(record?.detail, `arguments of ${Buffer.byteLength(args)} bytes > ${DEFAULTS.toolMaxArgumentBytes}`);
    });

    it(`${what}: arguments of more than ${DEFAULTS.jsonMaxValues} values are 413 -32602 json-too-many-values`, async () => {
      const before = reached();
      const reply = await keep(env.callTool(tool, JSON.stringify({ items: Array.from({ length: 100_000 }, (_, i) => i * 17) })));
      const error = rpcError(reply, 413, -32602);
      assert.equal(error.data?.['reason'], 'json-too-many-values');
      assert.equal(reached(), before);
      assert.equal((await env.recordOf(reply))?.reason, 'json-too-many-values');
    });
  }

  it('a message nested too deep outside params is 400 -32600 json-too-deep (the envelope itself is bad)', async () => {
    const message = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"up.take","arguments":{}},"extra":${nestedArrayText(5_000)}}`;
    const reply = await keep(env.postMcp('up.take', message));
    const error = rpcError(reply, 400, -32600);
    assert.equal(error.data?.['reason'], 'json-too-deep');
    assert.equal(messageOf(reply)['id'], 7);
    assert.equal((await env.recordOf(reply))?.reason, 'json-too-deep');
  });
});

describe('a result nested 50,000 levels', () => {
  for (const [what, tool] of [
    ['from an upstream tool', 'up.deep'],
    ["from a config tool's backend", 'deep_backend'],
  ] as const) {
    it(`${what} becomes an isError result, recorded as a call the tool ran`, async () => {
      const calls = env.upstream.calls.length;
      const seen = env.backend.seen.length;
      const reply = await keep(env.callTool(tool, '{}'));
      assert.equal(reply.status, 200, reply.body.slice(0, 300));
      const result = messageOf(reply)['result'] as { isError?: boolean; content: { text: string }[]; structuredContent?: unknown };
      assert.equal(result.isError, true);
      assert.deepEqual(result.content, [{ type: 'text', text: 'the tool answered a result nested deeper than the gateway accepts' }]);
      assert.equal(result.structuredContent, undefined);
      if (tool === 'up.deep') assert.equal(env.upstream.calls.length, calls + 1, 'the upstream ran the call');
      else assert.equal(env.backend.seen.length, seen + 1, 'the backend ran the call');
      const record = await env.recordOf(reply);
      assert.equal(record?.decision, 'allow', 'not "deny, pipeline fault"');
      assert.equal(record?.reason, 'allowed-by-rule');
      assert.equal(record?.status, 200);
      assert.equal(record?.resultError, true);
      assert.equal(record?.upstream, tool === 'up.deep' ? 'up' : 'config');
      assert.match(record?.detail ?? '', new RegExp(`result nested deeper than ${DEPTH} levels, replaced by an isError result$`));
      if (tool === 'deep_backend') assert.equal(record?.upstreamStatus, 200);
    });
  }
});

describe('other upstream answers nested too deep', () => {
  it('a resources/read result nested 50,000 levels: refused as an upstream error (no 500), recorded as such, the upstream did read', async () => {
    const { body, headers } = stateless(env.token, 'resources/read', { uri: 'raw://deep' }, { id: 7, headers: { 'mcp-name': 'raw://deep' } });
    const reads = env.upstream.calls.filter((c) => c === 'read raw://deep').length;
    const reply = await keep(send(env.gw.url, { method: 'POST', path: '/mcp', headers, body: JSON.stringify(body), timeoutMs: 10_000 }));
    const message = messageOf(reply);
    assert.equal(message['result'], undefined);
    assert.equal((message['error'] as { data?: { reason?: string } }).data?.reason, 'upstream-error', reply.body.slice(0, 300));
    assert.equal(env.upstream.calls.filter((c) => c === 'read raw://deep').length, reads + 1, 'the upstream answered the read');
    const record = await env.recordOf(reply);
    assert.equal(record?.reason, 'upstream-error');
    assert.equal(record?.resource, 'raw://deep');
  });

  it('a tool whose input schema nests past the bound is left out of the catalog; the others are listed', async () => {
    const { body, headers } = stateless(env.token, 'tools/list', {}, { id: 8 });
    const reply = await keep(send(env.gw.url, { method: 'POST', path: '/mcp', headers, body: JSON.stringify(body) }));
    const names = ((messageOf(reply)['result'] as { tools: { name: string }[] }).tools ?? []).map((t) => t.name);
    assert.ok(names.includes('up.take') && names.includes('up.deep'), names.join(', '));
    assert.ok(!names.includes('up.deep_schema'), 'a schema nested past the bound is not offered');
  });
});

describe('/healthz while large arguments are processed', () => {
  it('answers every poll while eight clients send the largest arguments allowed, and no call fails', async () => {
    // Just under both bounds: ~63 KB of arguments holding 9,000 values.
    const args = JSON.stringify({ items: Array.from({ length: 9_000 }, (_, i) => `v${i % 10}`.padEnd(4, 'x')) });
    assert.ok(Buffer.byteLength(args) < DEFAULTS.toolMaxArgumentBytes);
    let inFlight = true;
    let pollsDuringCalls = 0;
    const polls: Promise<void> = (async () => {
      while (inFlight) {
        const reply = await keep(send(env.gw.url, { path: '/healthz', timeoutMs: 10_000 }));
        assert.equal(reply.status, 200);
        if (inFlight) pollsDuringCalls++;
      }
    })();
    const clients = Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; i < 4; i++) {
        const reply = await keep(env.callTool(c % 2 === 0 ? 'submit_tool' : 'up.take', args));
        assert.equal(reply.status, 200, reply.body.slice(0, 300));
        const result = messageOf(reply)['result'] as { isError?: boolean } | undefined;
        assert.ok(result !== undefined && result.isError !== true, reply.body.slice(0, 300));
      }
    });
    await Promise.all(clients);
    inFlight = false;
    await polls;
    assert.ok(pollsDuringCalls >= 1, '/healthz was answered while the calls were processed');
  });
});
