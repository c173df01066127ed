import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { routeSchema } from '../../src/config/schema.js';
import type { ForwardInput } from '../../src/forward/proxy.js';
import { loadSigningKeys, type SigningKeys } from '../../src/forward/identity/signing-keys.js';
import { alice, close, listen, send } from './fixtures.js';
import { miniGateway } from './mini-gateway.js';

/** A running gateway in front of a test upstream, torn down by `stop`. */
async function setUp(keys: SigningKeys, upstream: Server | string, route: { timeoutMs?: number } = {}, beforeEnd?: ForwardInput['beforeEnd']) {
  const upstreamUrl = typeof upstream === 'string' ? upstream : await listen(upstream);
  const r = routeSchema.parse({ id: 'api', path: '/api', upstream: `${upstreamUrl}/up`, timeoutMs: route.timeoutMs ?? 2_000, connectTimeoutMs: 500 });
  const gw = miniGateway({ route: r, keys, publicUrl: 'https://gateway.test', identity: alice, ...(beforeEnd === undefined ? {} : { beforeEnd }) });
  const url = await listen(gw.server);
  return {
    url,
    results: gw.results,
    async stop() {
      await gw.forwarder.close().catch(() => undefined);
      await close(gw.server);
      if (typeof upstream !== 'string') await close(upstream);
    },
  };
}

/** Opens a request and hands back the streaming response (not read yet). */
function open(base: string, path: string, method = 'GET'): Promise<{ res: IncomingMessage; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = request({ host: u.hostname, port: u.port, path, method, agent: false }, (res) => resolve({ res, destroy: () => req.destroy() }));
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
  let dir: string;
  let keys: SigningKeys;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-proxy-'));
    keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: 'k.json', rotateAfterDays: 0, overlapSeconds: 60 }, { baseDir: dir });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('streams the response: the client has the first chunk before the upstream finishes', { timeout: 5_000 }, async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const gw = await setUp(keys, upstreamWith(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      await released; // only the client having read "first" lets the upstream finish
      res.end('data: second\n\n');
    }));
    try {
      const { res } = await open(gw.url, '/api/events');
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/event-stream');
      const [first] = (await once(res, 'data')) as [Buffer];
      assert.equal(first.toString(), 'data: first\n\n');
      release();
      const rest = await drain(res);
      assert.equal(rest.body.toString(), 'data: second\n\n');
      assert.equal(gw.results[0]?.ok, true);
      assert.equal(gw.results[0]?.bytesOut, 27);
    } finally {
      await gw.stop();
    }
  });

  it('passes a large body intact through backpressure', { timeout: 10_000 }, async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    const gw = await setUp(keys, upstreamWith((_req, res) => res.end(payload)));
    try {
      const { res } = await open(gw.url, '/api/blob');
      res.pause();
      await new Promise((r) => setTimeout(r, 50)); // let the gateway's socket buffer fill
      res.resume();
      const { body } = await drain(res);
      assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(payload).digest('hex'));
      assert.equal(gw.results[0]?.bytesOut, payload.length);
    } finally {
      await gw.stop();
    }
  });

  it('passes status and headers, every Set-Cookie, gzip bytes untouched, and drops hop-by-hop headers', async () => {
    const gz = gzipSync(Buffer.from('{"hello":"world"}'));
    const gw = await setUp(keys, upstreamWith((_req, res) => {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
      res.setHeader('content-encoding', 'gzip');
      res.setHeader('content-type', 'application/json');
      res.setHeader('connection', 'X-Hop');
      res.setHeader('x-hop', 'secret-to-this-hop');
      res.setHeader('keep-alive', 'timeout=42');
      res.setHeader('x-request-id', 'upstream-id');
      res.setHeader('x-backend', 'hr');
      res.writeHead(201).end(gz);
    }));
    try {
      const reply = await send(gw.url, { path: '/api/thing' });
      assert.equal(reply.status, 201);
      assert.deepEqual(reply.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
      assert.equal(reply.headers['content-encoding'], 'gzip');
      assert.deepEqual(reply.body, gz, 'compressed bytes arrive unchanged');
      assert.equal(reply.headers['x-backend'], 'hr');
      assert.equal(reply.headers['x-hop'], undefined);
      assert.notEqual(reply.headers['keep-alive'], 'timeout=42');
      assert.equal(reply.headers['x-request-id'], 'req-1', "the gateway's request id, not the upstream's");
    } finally {
      await gw.stop();
    }
  });

  it('returns redirects to the client instead of following them', async () => {
    let hits = 0;
    const gw = await setUp(keys, upstreamWith((req, res) => {
      hits++;
      res.writeHead(302, { location: '/up/elsewhere' }).end();
    }));
    try {
      const reply = await send(gw.url, { path: '/api/old' });
      assert.equal(reply.status, 302);
      assert.equal(reply.headers['location'], '/up/elsewhere');
      assert.equal(hits, 1);
    } finally {
      await gw.stop();
    }
  });

  it('answers HEAD and 204 without a body', async () => {
    const gw = await setUp(keys, upstreamWith((req, res) => {
      if (req.method === 'HEAD') res.writeHead(200, { 'content-length': '10', 'content-type': 'text/plain' }).end();
      else res.writeHead(204).end();
    }));
    try {
      const head = await send(gw.url, { method: 'HEAD', path: '/api/x' });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '10');
      assert.equal(head.body.length, 0);
      const none = await send(gw.url, { method: 'DELETE', path: '/api/x' });
      assert.equal(none.status, 204);
      assert.equal(none.body.length, 0);
      assert.ok(gw.results.every((r) => r.ok));
    } finally {
      await gw.stop();
    }
  });

  it('answers 502 upstream-unavailable when the upstream is down', async () => {
    const dead = createServer();
    const deadUrl = await listen(dead);
    await close(dead);
    const gw = await setUp(keys, deadUrl);
    try {
      const reply = await send(gw.url, { path: '/api/x' });
      assert.equal(reply.status, 502);
      assert.equal(gw.results[0]?.decision?.reason, 'upstream-unavailable');
      assert.equal(gw.results[0]?.decision?.detail, 'ECONNREFUSED');
    } finally {
      await gw.stop();
    }
  });

  it('answers 502 when the upstream sends garbage instead of HTTP', async () => {
    const tcp = createTcpServer((s: Socket) => s.resume().end('this is not http\r\n\r\n'));
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as { port: number }).port;
    const gw = await setUp(keys, `http://127.0.0.1:${port}`);
    try {
      const reply = await send(gw.url, { path: '/api/x' });
      assert.equal(reply.status, 502);
      assert.equal(gw.results[0]?.decision?.detail, 'HTTPParserError');
      assert.ok(!JSON.stringify(gw.results[0]).includes('not http'), 'the upstream bytes are not echoed into the detail');
    } finally {
      await gw.stop();
      await new Promise((r) => tcp.close(r));
    }
  });

  it('answers 504 upstream-timeout when the headers do not come in time', async () => {
    const gw = await setUp(keys, upstreamWith(() => undefined), { timeoutMs: 150 });
    try {
      const started = Date.now();
      const reply = await send(gw.url, { path: '/api/slow' });
      assert.equal(reply.status, 504);
      assert.ok(Date.now() - started < 1_500, 'within the route timeout, not a default one');
      assert.equal(gw.results[0]?.decision?.reason, 'upstream-timeout');
    } finally {
      await gw.stop();
    }
  });

  it('ends the client connection when the upstream stalls mid-body past the timeout', async () => {
    const gw = await setUp(keys, upstreamWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    }), { timeoutMs: 200 });
    try {
      const { res } = await open(gw.url, '/api/stall');
      const { body, complete } = await drain(res);
      assert.equal(body.toString(), 'partial');
      assert.equal(complete, false, 'the client can tell the response is truncated');
      assert.equal(gw.results[0]?.ok, false);
      assert.equal(gw.results[0]?.aborted, 'upstream');
      assert.equal(gw.results[0]?.reason, 'upstream-timeout');
      assert.equal(gw.results[0]?.upstreamStatus, 200);
    } finally {
      await gw.stop();
    }
  });

  it('ends the client connection when the upstream resets mid-body', async () => {
    const gw = await setUp(keys, upstreamWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial', () => setTimeout(() => res.socket?.destroy(), 20));
    }));
    try {
      const { res } = await open(gw.url, '/api/reset');
      const { complete } = await drain(res);
      assert.equal(complete, false);
      assert.equal(gw.results[0]?.reason, 'upstream-error');
    } finally {
      await gw.stop();
    }
  });

  it('aborts the upstream request when the client goes away', { timeout: 5_000 }, async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const gw = await setUp(keys, upstreamWith((_req, res) => {
      res.on('close', () => {
        if (!res.writableFinished) upstreamClosed();
      });
      res.writeHead(200);
      res.write('tick');
    }));
    try {
      const { res, destroy } = await open(gw.url, '/api/long');
      await once(res, 'data');
      destroy();
      await closed; // the upstream saw its connection go
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(gw.results[0]?.aborted, 'client');
    } finally {
      await gw.stop();
    }
  });

  it('aborts the upstream request when the client goes away before the response starts', { timeout: 5_000 }, async () => {
    let arrived!: () => void;
    const arrivedP = new Promise<void>((r) => (arrived = r));
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const gw = await setUp(keys, upstreamWith((req, res) => {
      res.on('close', () => upstreamClosed());
      arrived();
    }));
    try {
      const u = new URL(gw.url);
      const req = request({ host: u.hostname, port: u.port, path: '/api/wait', agent: false });
      req.on('error', () => undefined);
      req.end();
      await arrivedP;
      req.destroy();
      await closed;
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(gw.results[0]?.aborted, 'client');
      assert.equal(gw.results[0]?.decision, undefined, 'nothing to answer: the client is gone');
    } finally {
      await gw.stop();
    }
  });

  for (const [kind, head] of [['chunked', {}], ['fixed-length', { 'content-length': '7' }]] as const) {
    it(`finishes a ${kind} response only after beforeEnd (the audit write), outside the route timeout`, { timeout: 5_000 }, async () => {
      let ended = false;
      const calls: { upstreamStatus: number; bytesOut: number }[] = [];
      const gw = await setUp(keys, upstreamWith((_req, res) => res.writeHead(201, head).end('created')), { timeoutMs: 100 }, async (done) => {
        calls.push(done);
        await new Promise((r) => setTimeout(r, 200)); // a slow audit write, longer than timeoutMs
        assert.equal(ended, false, 'the client has not seen the end yet');
        return true;
      });
      try {
        const { res } = await open(gw.url, '/api/items', 'POST');
        res.on('end', () => (ended = true));
        const { body, complete } = await drain(res);
        assert.equal(complete, true);
        assert.equal(body.toString(), 'created');
        assert.deepEqual(calls, [{ upstreamStatus: 201, bytesOut: 7 }]);
        assert.equal(gw.results[0]?.ok, true);
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
    it(`cuts the response short when beforeEnd refuses (audit not written): ${name}`, async () => {
      // A real audit write takes a while: by then everything written before it is on the wire.
      const gw = await setUp(keys, upstreamWith(handler), {}, () => new Promise((r) => setTimeout(() => r(false), 30)));
      try {
        const u = new URL(gw.url);
        const outcome = await new Promise<string>((resolve) => {
          const req = request({ host: u.hostname, port: u.port, path: '/api/items', method: 'DELETE', agent: false }, (res) => {
            void drain(res).then(({ complete }) => resolve(complete ? 'complete' : 'truncated'));
          });
          req.on('error', () => resolve('connection error'));
          req.end();
        });
        assert.notEqual(outcome, 'complete', 'the client can tell the response is incomplete');
        assert.equal(gw.results[0]?.ok, false);
        assert.equal(gw.results[0]?.aborted, 'gateway');
      } finally {
        await gw.stop();
      }
    });
  }

  it('forwards the request body and method as sent', async () => {
    let got = '';
    const gw = await setUp(keys, upstreamWith((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got = `${req.method} ${req.url} ${req.headers['content-length']} ${Buffer.concat(chunks).toString()}`;
        res.end();
      });
    }));
    try {
      await send(gw.url, { method: 'PUT', path: '/api/items/7?dry=1', headers: { 'content-type': 'text/plain' }, body: 'hello' });
      assert.equal(got, 'PUT /up/items/7?dry=1 5 hello');
    } finally {
      await gw.stop();
    }
  });
});
