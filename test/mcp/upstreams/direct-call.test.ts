import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { callToolDirect, MAX_ANSWER_BYTES, UpstreamProtocolError } from '../../../src/mcp-upstream/direct-call.js';
import { BrokenAnswerError, failureKind, failureOf } from '../../../src/mcp-upstream/failure-kind.js';

// The gateway's own `tools/call` over an SDK client's Streamable HTTP session, against a raw
// node:http upstream whose answer each test scripts: the request it sends, each answer form it
// takes (JSON, batch, SSE in pieces), and each way it fails (the same errors as the SDK's
// callTool, so the caller treats both alike).

type Rpc = { jsonrpc: string; id?: string | number; method?: string; params?: Record<string, unknown> };
type Script = (req: IncomingMessage, res: ServerResponse, rpc: Rpc) => void | Promise<void>;

const SESSION = 'session-1';
const received: { headers: IncomingMessage['headers']; rpc: Rpc }[] = [];
let script: Script = () => undefined;
let server: Server;
let url: URL;
let client: Client;
// The gateway's own pools for tools/call (npm undici's handler API, whatever the global dispatcher is).
const agent = new Agent();

const json = (res: ServerResponse, body: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
const event = (res: ServerResponse, message: unknown) => res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
const ok = (id: unknown, text = 'done') => ({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once the upstream has received a message with `method`. */
async function receivedMethod(method: string): Promise<Rpc> {
  for (let i = 0; i < 200; i++) {
    const found = received.find((r) => r.rpc.method === method);
    if (found !== undefined) return found.rpc;
    await sleep(10);
  }
  throw new Error(`${method} never reached the upstream`);
}

const call = (opts: { signal?: AbortSignal; timeoutMs?: number; onProgress?: (p: { progress: number }) => void } = {}) =>
  callToolDirect(client, url, agent, {
    params: { name: 'lookup', arguments: { employee: 'bob' }, _meta: { 'io.behalf/assertion': 'signed' } },
    headers: { authorization: 'Bearer gateway-credential', 'x-behalf-assertion': 'signed', 'x-request-id': 'req-1' },
    signal: opts.signal ?? new AbortController().signal,
    timeoutMs: opts.timeoutMs ?? 5_000,
    ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
  });

before(async () => {
  server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (req.method === 'DELETE') {
      res.writeHead(200).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rpc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Rpc;
      received.push({ headers: req.headers, rpc });
      if (rpc.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': SESSION });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: rpc.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'scripted', version: '1' } } }));
        return;
      }
      if (rpc.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      void script(req, res, rpc);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = new URL(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/mcp`);
  client = new Client({ name: 'test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(url));
});

after(async () => {
  await client.close();
  await agent.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('callToolDirect', () => {
  it('sends one tools/call with the session, the protocol version and every header, and returns the JSON answer', async () => {
    received.length = 0;
    script = (_req, res, rpc) => json(res, { jsonrpc: '2.0', id: rpc.id, result: { content: [{ type: 'text', text: 'ok' }], structuredContent: { rating: 4 } } });
    const result = await call();
    assert.deepEqual(result.content, [{ type: 'text', text: 'ok' }]);
    assert.deepEqual(result.structuredContent, { rating: 4 });
    const sent = received.find((r) => r.rpc.method === 'tools/call')!;
    assert.equal(sent.headers['mcp-session-id'], SESSION);
    assert.equal(sent.headers['mcp-protocol-version'], '2025-11-25');
    assert.equal(sent.headers['authorization'], 'Bearer gateway-credential');
    assert.equal(sent.headers['x-behalf-assertion'], 'signed');
    assert.equal(sent.headers['x-request-id'], 'req-1');
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.equal(sent.headers['accept'], 'application/json, text/event-stream');
    assert.equal(typeof sent.rpc.id, 'string', 'a string id never collides with the SDK client numeric ones');
    assert.deepEqual(sent.rpc.params, { name: 'lookup', arguments: { employee: 'bob' }, _meta: { 'io.behalf/assertion': 'signed' } });
  });

  it('takes the answer out of a JSON batch and hands the other messages to the SDK client', async () => {
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    script = (_req, res, rpc) => json(res, [{ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'batched' } }, ok(rpc.id, 'from batch')]);
    const result = await call();
    assert.deepEqual(result.content, [{ type: 'text', text: 'from batch' }]);
    await sleep(10);
    assert.deepEqual(logs, ['batched']);
  });

  it('reads an SSE answer sent in pieces: progress for this call to onProgress, other messages to the SDK client, then the answer', async () => {
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    script = async (_req, res, rpc) => {
      const token = (rpc.params?.['_meta'] as Record<string, unknown> | undefined)?.['progressToken'];
      sse(res);
      event(res, { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
      await sleep(20);
      event(res, { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } });
      await sleep(20);
      // An event split across two writes, and a progress event for another call (not this one's).
      const last = `event: message\ndata: ${JSON.stringify(ok(rpc.id, 'streamed'))}\n\n`;
      event(res, { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'other', progress: 9 } });
      res.write(last.slice(0, 25));
      await sleep(20);
      res.end(last.slice(25));
    };
    const progress: unknown[] = [];
    const result = await call({ onProgress: (p) => progress.push(p) });
    assert.deepEqual(result.content, [{ type: 'text', text: 'streamed' }]);
    assert.deepEqual(progress, [{ progress: 1, total: 2 }]);
    assert.deepEqual(logs, ['working']);
    const sent = received.filter((r) => r.rpc.method === 'tools/call').at(-1)!;
    assert.equal((sent.rpc.params?.['_meta'] as Record<string, unknown>)['progressToken'], sent.rpc.id, 'asked for progress with its own id as the token');
    assert.equal((sent.rpc.params?.['_meta'] as Record<string, unknown>)['io.behalf/assertion'], 'signed', 'the assertion stays in _meta');
  });

  it('takes the answer at once from a stream the upstream leaves open, and closes that stream at the call deadline', async () => {
    let closed: number | undefined;
    script = (_req, res, rpc) => {
      sse(res);
      event(res, ok(rpc.id, 'then the stream stays open'));
      res.on('close', () => (closed = Date.now()));
    };
    const started = Date.now();
    const result = await call({ timeoutMs: 300 });
    assert.deepEqual(result.content, [{ type: 'text', text: 'then the stream stays open' }]);
    assert.ok(Date.now() - started < 250, 'the answer did not wait for the end of the stream');
    for (let i = 0; i < 100 && closed === undefined; i++) await sleep(10);
    assert.ok(closed !== undefined && closed - started >= 250, 'the open stream was closed at the deadline, not before');
  });

  it('a progress handler that throws fails the call, JSON or SSE, and nothing else', async () => {
    const progressThenAnswer = (rpc: Rpc) => {
      const token = (rpc.params?.['_meta'] as Record<string, unknown> | undefined)?.['progressToken'];
      return [{ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 1 } }, ok(rpc.id)];
    };
    const throwing = () => {
      throw new Error('handler bug');
    };
    script = (_req, res, rpc) => json(res, progressThenAnswer(rpc));
    await assert.rejects(call({ onProgress: throwing }), (err: unknown) => err instanceof TypeError && (err.cause as Error).message === 'handler bug');
    script = (_req, res, rpc) => {
      sse(res);
      for (const message of progressThenAnswer(rpc)) event(res, message);
      res.end();
    };
    await assert.rejects(call({ onProgress: throwing }), (err: unknown) => err instanceof TypeError && (err.cause as Error).message === 'handler bug');
    script = (_req, res, rpc) => json(res, ok(rpc.id, 'still serving'));
    assert.deepEqual((await call()).content, [{ type: 'text', text: 'still serving' }]);
  });

  it('a JSON-RPC error answer rejects with an McpError of that code', async () => {
    script = (_req, res, rpc) => json(res, { jsonrpc: '2.0', id: rpc.id, error: { code: -32602, message: 'Unknown tool' } });
    await assert.rejects(call(), (err: unknown) => err instanceof McpError && err.code === -32602);
  });

  it('a non-2xx answer rejects with a StreamableHTTPError of that status (404: the session is gone)', async () => {
    for (const status of [404, 500, 202]) {
      script = (_req, res) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status === 202 ? '' : 'internal detail the client must not see');
      };
      await assert.rejects(call(), (err: unknown) => err instanceof StreamableHTTPError && err.code === status && !err.message.includes('internal detail'));
    }
  });

  it('an answer that is not a tools/call answer rejects with UpstreamProtocolError', async () => {
    const answers: Script[] = [
      (_req, res, rpc) => json(res, { jsonrpc: '2.0', id: rpc.id, result: { content: 'not a list' } }),
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"jsonrpc": "2.0", "id": ');
      },
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html></html>');
      },
      (_req, res) => json(res, ok('someone-else')),
    ];
    for (const answer of answers) {
      script = answer;
      await assert.rejects(call(), UpstreamProtocolError);
    }
  });

  it('an answer over the bound (a JSON body in all, or one SSE event) is refused as too large, without buffering the rest', async () => {
    const big = 'x'.repeat(MAX_ANSWER_BYTES);
    script = (_req, res, rpc) => json(res, ok(rpc.id, big));
    await assert.rejects(call(), (err: unknown) => err instanceof UpstreamProtocolError && err.clientText === 'upstream answered more than the gateway accepts');
    let written = 0;
    script = async (_req, res, rpc) => {
      sse(res);
      // One event that never ends: the gateway gives up at the bound, not at the timeout.
      res.write('event: message\ndata: {"jsonrpc":"2.0","id":' + JSON.stringify(rpc.id) + ',"result":{"content":[{"type":"text","text":"');
      const piece = 'y'.repeat(256 * 1024);
      while (!res.destroyed && written < 16 * MAX_ANSWER_BYTES) {
        written += piece.length;
        if (!res.write(piece)) await new Promise((r) => res.once('drain', r).once('close', r));
      }
      res.end();
    };
    await assert.rejects(call({ timeoutMs: 10_000 }), (err: unknown) => err instanceof UpstreamProtocolError && /answer over/.test(err.message));
    // What the kernel buffers on loopback (a few MB) is written before the upstream sees the close.
    assert.ok(written < 4 * MAX_ANSWER_BYTES, `the upstream could write ${written} bytes`);
    // Within the bound, a large answer is taken whole.
    const fits = 'z'.repeat(MAX_ANSWER_BYTES / 2);
    script = (_req, res, rpc) => json(res, ok(rpc.id, fits));
    assert.equal(((await call()).content[0] as { text: string }).text.length, fits.length);
  });

  it('a connection that breaks before the answer\'s head rejects like fetch; an answer cut short after its head rejects as a broken answer', async () => {
    script = (req) => void req.socket.destroy();
    await assert.rejects(call(), (err: unknown) => err instanceof TypeError && err.message === 'fetch failed');
    script = (_req, res) => {
      sse(res);
      event(res, { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'then nothing' } });
      res.end();
    };
    await assert.rejects(call(), (err: unknown) => err instanceof BrokenAnswerError && failureKind(err) === 'broken-answer');
    script = (_req, res) => {
      sse(res);
      res.write(': working\n\n', () => res.socket?.destroy());
    };
    await assert.rejects(call(), (err: unknown) => err instanceof BrokenAnswerError && failureOf(err) === 'UND_ERR_SOCKET');
  });

  it('past timeoutMs it rejects with RequestTimeout and tells the upstream to cancel that request', async () => {
    received.length = 0;
    script = () => undefined; // never answers
    await assert.rejects(call({ timeoutMs: 100 }), (err: unknown) => err instanceof McpError && err.code === ErrorCode.RequestTimeout);
    const sent = received.find((r) => r.rpc.method === 'tools/call')!.rpc;
    const cancelled = await receivedMethod('notifications/cancelled');
    assert.equal(cancelled.params?.['requestId'], sent.id);
  });

  it('an aborted call rejects with the signal reason and tells the upstream to cancel that request', async () => {
    received.length = 0;
    script = () => undefined;
    const abort = new AbortController();
    const pending = call({ signal: abort.signal });
    await receivedMethod('tools/call');
    const reason = new Error('client went away');
    abort.abort(reason);
    await assert.rejects(pending, (err: unknown) => err === reason);
    const sent = received.find((r) => r.rpc.method === 'tools/call')!.rpc;
    const cancelled = await receivedMethod('notifications/cancelled');
    assert.equal(cancelled.params?.['requestId'], sent.id);
  });

  it('a signal aborted before the call sends nothing', async () => {
    received.length = 0;
    const reason = new Error('cancelled before it started');
    await assert.rejects(call({ signal: AbortSignal.abort(reason) }), (err: unknown) => err === reason);
    await sleep(20);
    assert.deepEqual(received, []);
  });

  it('refuses a client whose transport is not Streamable HTTP', async () => {
    const other = new Client({ name: 'test', version: '1' });
    await assert.rejects(callToolDirect(other, url, agent, { params: {}, headers: {}, signal: new AbortController().signal, timeoutMs: 100 }), TypeError);
  });
});
