import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type OutgoingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { AuditRecord } from '../../src/audit/record.js';
import { close, listen, send } from './fixtures.js';
import { startRouteGateway, type AppendHook, type RouteGateway } from './route-gateway.js';

// The forwarding half of the HTTP door, through the real gateway: what the client gets
// (streaming, status and headers, timeouts, cut-short responses) and how the gateway's audit
// record says the exchange ended. The record is written by the forward stage just before the
// response ends, or by the pipeline after an exchange that could not finish.

/** A running gateway with one route (`/api` to `<upstream>/up`) in front of a test upstream, torn down by `stop`. */
async function setUp(upstream: Server | string, route: { timeoutMs?: number } = {}, onAppend?: AppendHook) {
  const upstreamUrl = typeof upstream === 'string' ? upstream : await listen(upstream);
  const gw = await startRouteGateway(
    { routes: [{ id: 'api', path: '/api', upstream: `${upstreamUrl}/up`, timeoutMs: route.timeoutMs ?? 2_000, connectTimeoutMs: 500 }] },
    onAppend === undefined ? {} : { onAppend },
  );
  const auth = await gw.auth();
  return {
    url: gw.url,
    auth,
    records: gw.records,
    recordOf: gw.recordOf,
    metrics: gw.metrics,
    async stop() {
      await gw.close();
      if (typeof upstream !== 'string') await close(upstream);
    },
  };
}

/** The request id the gateway gave a response (the key of its audit record). */
const requestIdOf = (headers: IncomingMessage['headers']): string => String(headers['x-request-id']);

/** The record of an exchange that ran to its end: allowed, nothing went wrong, what the upstream answered. */
function assertComplete(record: AuditRecord, upstreamStatus: number, bytesOut?: number): void {
  assert.equal(record.decision, 'allow', `the exchange failed: ${record.reason} ${record.detail ?? ''}`);
  assert.equal(record.detail, undefined);
  assert.equal(record.upstreamStatus, upstreamStatus);
  if (bytesOut !== undefined) assert.equal(record.bytesOut, bytesOut);
}

/** Opens a request and hands back the streaming response (not read yet). */
function open(base: string, path: string, headers: OutgoingHttpHeaders, method = 'GET'): Promise<{ res: IncomingMessage; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = request({ host: u.hostname, port: u.port, path, method, headers, agent: false }, (res) => resolve({ res, destroy: () => req.destroy() }));
    req.on('error', reject);
    req.end();
  });
}

/** Reads a response to its end, or to the moment the connection breaks. */
function drain(res: IncomingMessage): Promise<{ body: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve({ body: Buffer.concat(chunks), complete: res.complete }));
    res.on('error', () => resolve({ body: Buffer.concat(chunks), complete: false }));
    res.on('aborted', () => resolve({ body: Buffer.concat(chunks), complete: false }));
  });
}

const upstreamWith = (handler: RequestListener) => createServer(handler);

describe('proxy', () => {
  it('streams the response: the client has the first chunk before the upstream finishes', { timeout: 5_000 }, async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const gw = await setUp(upstreamWith(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      await released; // only the client having read "first" lets the upstream finish
      res.end('data: second\n\n');
    }));
    try {
      const { res } = await open(gw.url, '/api/events', gw.auth);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/event-stream');
      const [first] = (await once(res, 'data')) as [Buffer];
      assert.equal(first.toString(), 'data: first\n\n');
      release();
      const rest = await drain(res);
      assert.equal(rest.body.toString(), 'data: second\n\n');
      assertComplete(await gw.recordOf(requestIdOf(res.headers)), 200, 27);
    } finally {
      await gw.stop();
    }
  });

  it('passes a large body intact through backpressure', { timeout: 10_000 }, async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    const gw = await setUp(upstreamWith((_req, res) => res.end(payload)));
    try {
      const { res } = await open(gw.url, '/api/blob', gw.auth);
      res.pause();
      await new Promise((r) => setTimeout(r, 50)); // let the gateway's socket buffer fill
      res.resume();
      const { body } = await drain(res);
      assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(payload).digest('hex'));
      assertComplete(await gw.recordOf(requestIdOf(res.headers)), 200, payload.length);
    } finally {
      await gw.stop();
    }
  });

  it('passes status and headers, every Set-Cookie, gzip bytes untouched, and drops hop-by-hop headers', async () => {
    const gz = gzipSync(Buffer.from('{"hello":"world"}'));
    let upstreamSawId: string | string[] | undefined;
    const gw = await setUp(upstreamWith((req, res) => {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
      res.setHeader('content-encoding', 'gzip');
      res.setHeader('content-type', 'application/json');
      res.setHeader('connection', 'X-Hop');
      res.setHeader('x-hop', 'secret-to-this-hop');
      res.setHeader('keep-alive', 'timeout=42');
      res.setHeader('x-request-id', 'upstream-id');
      res.setHeader('x-backend', 'hr');
      upstreamSawId = req.headers['x-request-id'];
      res.writeHead(201).end(gz);
    }));
    try {
      const reply = await send(gw.url, { path: '/api/thing', headers: gw.auth });
      assert.equal(reply.status, 201);
      assert.deepEqual(reply.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
      assert.equal(reply.headers['content-encoding'], 'gzip');
      assert.deepEqual(reply.body, gz, 'compressed bytes arrive unchanged');
      assert.equal(reply.headers['x-backend'], 'hr');
      assert.equal(reply.headers['x-hop'], undefined);
      assert.notEqual(reply.headers['keep-alive'], 'timeout=42');
      const requestId = reply.headers['x-request-id'];
      assert.notEqual(requestId, 'upstream-id', "the gateway's request id, not the upstream's");
      assert.equal(requestId, upstreamSawId, 'the id the gateway sent upstream');
      assertComplete(await gw.recordOf(String(requestId)), 201, gz.length);
    } finally {
      await gw.stop();
    }
  });

  it('returns redirects to the client instead of following them', async () => {
    let hits = 0;
    const gw = await setUp(upstreamWith((req, res) => {
      hits++;
      res.writeHead(302, { location: '/up/elsewhere' }).end();
    }));
    try {
      const reply = await send(gw.url, { path: '/api/old', headers: gw.auth });
      assert.equal(reply.status, 302);
      assert.equal(reply.headers['location'], '/up/elsewhere');
      assert.equal(hits, 1);
    } finally {
      await gw.stop();
    }
  });

  it('answers HEAD and 204 without a body', async () => {
    const gw = await setUp(upstreamWith((req, res) => {
      if (req.method === 'HEAD') res.writeHead(200, { 'content-length': '10', 'content-type': 'text/plain' }).end();
      else res.writeHead(204).end();
    }));
    try {
      const head = await send(gw.url, { method: 'HEAD', path: '/api/x', headers: gw.auth });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '10');
      assert.equal(head.body.length, 0);
      const none = await send(gw.url, { method: 'DELETE', path: '/api/x', headers: gw.auth });
      assert.equal(none.status, 204);
      assert.equal(none.body.length, 0);
      assertComplete(await gw.recordOf(requestIdOf(head.headers)), 200, 0);
      assertComplete(await gw.recordOf(requestIdOf(none.headers)), 204, 0);
    } finally {
      await gw.stop();
    }
  });

  /** A GET through a gateway whose route points at `upstream`: the reply and its audit record. */
  async function refusedBy(upstream: string): Promise<{ reply: Awaited<ReturnType<typeof send>>; record: Awaited<ReturnType<RouteGateway['recordOf']>> }> {
    const gw = await setUp(upstream);
    try {
      const reply = await send(gw.url, { path: '/api/x', headers: gw.auth });
      return { reply, record: await gw.recordOf(requestIdOf(reply.headers)) };
    } finally {
      await gw.stop();
    }
  }

  it('answers 502 upstream-unavailable when the upstream is down', async () => {
    const dead = createServer();
    const deadUrl = await listen(dead);
    await close(dead);
    const { reply, record } = await refusedBy(deadUrl);
    assert.equal(reply.status, 502);
    assert.equal(record.reason, 'upstream-unavailable');
    assert.equal(record.detail, 'ECONNREFUSED');
  });

  it('answers 502 when the upstream sends garbage instead of HTTP', async () => {
    const tcp = createTcpServer((s: Socket) => s.resume().end('this is not http\r\n\r\n'));
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as { port: number }).port;
    try {
      const { reply, record } = await refusedBy(`http://127.0.0.1:${port}`);
      assert.equal(reply.status, 502);
      assert.equal(record.reason, 'upstream-unavailable');
      assert.equal(record.detail, 'HTTPParserError');
      assert.ok(!JSON.stringify(record).includes('not http'), 'the upstream bytes are not echoed into the detail');
      assert.ok(!reply.body.toString().includes('not http'), 'nor to the client');
    } finally {
      await new Promise((r) => tcp.close(r));
    }
  });

  it('answers 504 upstream-timeout when the headers do not come in time', async () => {
    const gw = await setUp(upstreamWith(() => undefined), { timeoutMs: 150 });
    try {
      const started = Date.now();
      const reply = await send(gw.url, { path: '/api/slow', headers: gw.auth });
      assert.equal(reply.status, 504);
      assert.ok(Date.now() - started < 1_500, 'within the route timeout, not a default one');
      assert.equal((await gw.recordOf(requestIdOf(reply.headers))).reason, 'upstream-timeout');
    } finally {
      await gw.stop();
    }
  });

  it('ends the client connection when the upstream stalls mid-body past the timeout', async () => {
    const gw = await setUp(upstreamWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    }), { timeoutMs: 200 });
    try {
      const { res } = await open(gw.url, '/api/stall', gw.auth);
      const { body, complete } = await drain(res);
      assert.equal(body.toString(), 'partial');
      assert.equal(complete, false, 'the client can tell the response is truncated');
      // Cut by the upstream side after the head went out: a denial with the head's status.
      const record = await gw.recordOf(requestIdOf(res.headers));
      assert.equal(record.decision, 'deny');
      assert.equal(record.reason, 'upstream-timeout');
      assert.equal(record.status, 200);
      assert.equal(record.upstreamStatus, 200);
    } finally {
      await gw.stop();
    }
  });

  it('ends the client connection when the upstream resets mid-body', async () => {
    const gw = await setUp(upstreamWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial', () => setTimeout(() => res.socket?.destroy(), 20));
    }));
    try {
      const { res } = await open(gw.url, '/api/reset', gw.auth);
      const { complete } = await drain(res);
      assert.equal(complete, false);
      const record = await gw.recordOf(requestIdOf(res.headers));
      assert.equal(record.decision, 'deny');
      assert.equal(record.reason, 'upstream-error');
      assert.equal(record.upstreamStatus, 200);
    } finally {
      await gw.stop();
    }
  });

  it('aborts the upstream request when the client goes away', { timeout: 5_000 }, async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const gw = await setUp(upstreamWith((_req, res) => {
      res.on('close', () => {
        if (!res.writableFinished) upstreamClosed();
      });
      res.writeHead(200);
      res.write('tick');
    }));
    try {
      const { res, destroy } = await open(gw.url, '/api/long', gw.auth);
      await once(res, 'data');
      destroy();
      await closed; // the upstream saw its connection go
      const record = await gw.recordOf(requestIdOf(res.headers));
      assert.equal(record.detail, 'client closed the connection');
      assert.equal(record.decision, 'allow', 'not blamed on the upstream');
    } finally {
      await gw.stop();
    }
  });

  it('aborts the upstream request when the client goes away before the response starts', { timeout: 5_000 }, async () => {
    let arrived!: () => void;
    const arrivedP = new Promise<void>((r) => (arrived = r));
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const gw = await setUp(upstreamWith((req, res) => {
      res.on('close', () => upstreamClosed());
      arrived();
    }));
    try {
      const u = new URL(gw.url);
      const req = request({ host: u.hostname, port: u.port, path: '/api/wait', headers: gw.auth, agent: false });
      req.on('error', () => undefined);
      req.end();
      await arrivedP;
      req.destroy();
      await closed;
      const record = await gw.recordOf(() => true);
      assert.equal(record.detail, 'client closed the connection');
      assert.equal(record.decision, 'allow', 'nothing to answer (no 502/504): the client is gone');
      assert.equal(record.upstreamStatus, undefined);
    } finally {
      await gw.stop();
    }
  });

  for (const [kind, head] of [['chunked', {}], ['fixed-length', { 'content-length': '7' }]] as const) {
    it(`finishes a ${kind} response only after the audit write, outside the route timeout`, { timeout: 5_000 }, async () => {
      let ended = false;
      const endedDuringWrite: boolean[] = [];
      const gw = await setUp(upstreamWith((_req, res) => res.writeHead(201, head).end('created')), { timeoutMs: 100 }, async (record) => {
        if (record.phase === 'intent') return; // written before the upstream was asked
        await new Promise((r) => setTimeout(r, 200)); // a slow audit write, longer than timeoutMs
        endedDuringWrite.push(ended);
      });
      try {
        const { res } = await open(gw.url, '/api/items', gw.auth, 'POST');
        res.on('end', () => (ended = true));
        const { body, complete } = await drain(res);
        assert.equal(complete, true);
        assert.equal(body.toString(), 'created');
        assert.deepEqual(endedDuringWrite, [false], 'the client had not seen the end while its record was written');
        assert.deepEqual(gw.records.map((r) => ({ phase: r.phase, upstreamStatus: r.upstreamStatus, bytesOut: r.bytesOut })), [
          { phase: 'intent', upstreamStatus: undefined, bytesOut: 0 },
          { phase: 'outcome', upstreamStatus: 201, bytesOut: 7 },
        ]);
        assertComplete(gw.records[1]!, 201, 7);
      } finally {
        await gw.stop();
      }
    });
  }

  const refusals: [string, RequestListener][] = [
    ['a fixed-length body', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '11' }).end('salary data')],
    ['a chunked body', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('salary ');
      res.end('data');
    }],
    ['a bodiless 204', (_req, res) => res.writeHead(204).end()],
  ];
  for (const [name, handler] of refusals) {
    it(`cuts a read's response short when its audit record cannot be written: ${name}`, async () => {
      // A real audit write takes a while: by then everything written before it is on the wire.
      const gw = await setUp(upstreamWith(handler), {}, () => new Promise((_, reject) => setTimeout(() => reject(new Error('disk full')), 30)));
      try {
        const u = new URL(gw.url);
        const outcome = await new Promise<string>((resolve) => {
          const req = request({ host: u.hostname, port: u.port, path: '/api/items', method: 'GET', headers: gw.auth, agent: false }, (res) => {
            void drain(res).then(({ complete }) => resolve(complete ? 'complete' : 'truncated'));
          });
          req.on('error', () => resolve('connection error'));
          req.end();
        });
        assert.notEqual(outcome, 'complete', 'the client can tell the response is incomplete');
        // The gateway cut it: the upstream answered in full, the one record was attempted (none
        // after it), the audit alarm is up and no upstream failure was counted.
        assert.equal(gw.records.length, 1);
        assert.equal(gw.records[0]!.decision, 'allow');
        assert.equal(gw.records[0]!.upstreamStatus, name === 'a bodiless 204' ? 204 : 200);
        const metrics = await gw.metrics();
        assert.match(metrics, /^behalf_audit_unhealthy 1$/m);
        assert.doesNotMatch(metrics, /^behalf_upstream_failures_total\{/m);
      } finally {
        await gw.stop();
      }
    });
  }

  it("answers a change in full when its intent was written but its outcome cannot be: the client is not told 'not done' about a done change", async () => {
    const gw = await setUp(upstreamWith((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('deleted')), {}, (record) =>
      record.phase === 'intent' ? Promise.resolve() : new Promise((_, reject) => setTimeout(() => reject(new Error('disk full')), 30)),
    );
    try {
      const { res } = await open(gw.url, '/api/items', gw.auth, 'DELETE');
      const { body, complete } = await drain(res);
      assert.equal(res.statusCode, 200);
      assert.equal(complete, true);
      assert.equal(body.toString(), 'deleted');
      assert.deepEqual(gw.records.map((r) => r.phase), ['intent', 'outcome'], 'the intent was kept; the outcome was attempted');
      assert.match(await gw.metrics(), /^behalf_audit_unhealthy 1$/m);
    } finally {
      await gw.stop();
    }
  });

  it('while the trail is failing, one change at a time tries its intent; the others are refused at once, none reaches the backend', async () => {
    let seen = 0;
    let failing = true;
    const gw = await setUp(
      upstreamWith((_req, res) => {
        seen++;
        res.writeHead(201).end('created');
      }),
      {},
      // A store that fails slowly (a database timing out): every write waits 300 ms, then fails.
      () => (failing ? new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 300)) : Promise.resolve()),
    );
    try {
      const status = async (method: string) => {
        const { res } = await open(gw.url, '/api/items', gw.auth, method);
        await drain(res);
        return res.statusCode;
      };
      assert.equal(await status('POST'), 503, 'the first failure is found by a change’s intent');
      const before = gw.records.filter((r) => r.phase === 'intent').length;
      const statuses = await Promise.all(Array.from({ length: 6 }, () => status('POST')));
      assert.deepEqual(statuses, [503, 503, 503, 503, 503, 503]);
      assert.equal(gw.records.filter((r) => r.phase === 'intent').length - before, 1, 'one intent tried the failing store; five were refused without waiting for it');
      assert.equal(seen, 0, 'nothing reached the backend');
      failing = false;
      assert.equal(await status('POST'), 201, 'the next change finds the store back');
    } finally {
      await gw.stop();
    }
  });

  it('forwards the request body and method as sent', async () => {
    let got = '';
    const gw = await setUp(upstreamWith((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got = `${req.method} ${req.url} ${req.headers['content-length']} ${Buffer.concat(chunks).toString()}`;
        res.end();
      });
    }));
    try {
      await send(gw.url, { method: 'PUT', path: '/api/items/7?dry=1', headers: { ...gw.auth, 'content-type': 'text/plain' }, body: 'hello' });
      assert.equal(got, 'PUT /up/items/7?dry=1 5 hello');
    } finally {
      await gw.stop();
    }
  });
});
