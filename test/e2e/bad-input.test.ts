import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { openSocket, rawExchange, send, type Reply } from './bounded-client.js';
import { assertAudited, assertDenied, bearer, sleep, startQuietIdp, type AuditExpectation } from './e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from './harness.js';

// Bad input from a client never crashes or hangs the gateway and never reaches the backend:
// each gets a prompt refusal (or a closed socket), and the gateway keeps serving.

let idp: DevIdp;
let backend: RecordingBackend;
let gw: TestGateway;
let token: string;
const expected = new Map<string, AuditExpectation & { what: string }>();

before(async () => {
  backend = await startRecordingBackend();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  idp = await startQuietIdp(publicUrl);
  token = await idp.mint('alice');
  gw = await startTestGateway({
    server: { port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl, jwksUri: idp.jwksUri }],
    routes: [
      { id: 'x', path: '/api/x', methods: ['GET', 'POST'], upstream: `${backend.url}/x`, maxBodyBytes: 1_024 },
      // Where `/api/x/../y` would land if anything normalised it.
      { id: 'y', path: '/api/y', upstream: `${backend.url}/y` },
    ],
    policies: [{ id: 'anyone-authenticated', effect: 'allow', match: { routes: ['x', 'y'] } }],
  });
});
after(async () => {
  await gw.close();
  await backend.close();
  await idp.close();
});

const auth = () => ({ authorization: `Bearer ${token}` });

/** Sends, asserts the refusal, that the backend got nothing, and records what the audit must say. */
async function refused(what: string, opts: Parameters<typeof send>[1], status: number, error: string): Promise<Reply> {
  const before = backend.seen.length;
  const reply = await send(gw.url, opts);
  const id = assertDenied(reply, status, error, what);
  assert.equal(backend.seen.length, before, `${what}: reached the backend`);
  expected.set(id, { what, decision: 'deny', reason: error, status });
  return reply;
}

test('malformed Authorization headers: 401 token-malformed with a challenge', async () => {
  for (const value of ['Bearer', 'Bearer  a b', 'Bearer tökén', 'Bearer a,b']) {
    const reply = await refused(`authorization ${JSON.stringify(value)}`, { path: '/api/x/1', headers: { authorization: value } }, 401, 'token-malformed');
    assert.match(String(reply.headers['www-authenticate']), /^Bearer .*error="invalid_request"/, value);
  }
  // UTF-8 bytes no HTTP client library would send as a header value.
  const raw = await rawExchange(gw.url, Buffer.concat([Buffer.from('GET /api/x/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer '), Buffer.from('🔑ключ', 'utf8'), Buffer.from('\r\n\r\n')]));
  assert.equal(raw.status, 401, raw.text);
  assert.match(raw.text, /"error":"token-malformed"/);
  assert.match(raw.text, /www-authenticate: Bearer /i);
});

test('headers over server.maxHeaderBytes (64 KiB): 431 headers-too-large from the parser, the connection closed, the gateway unharmed', async () => {
  const raw = await rawExchange(gw.url, `GET /api/x/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`);
  assert.equal(raw.status, 431, raw.text.slice(0, 200));
  assert.match(raw.text, /"error":"headers-too-large"/);
  assert.equal(raw.closed, true);
  // A 20 KB header is within the parser's bound: the request reaches the pipeline, and a 20 KB token gets behalf's own refusal.
  const big = await send(gw.url, { path: '/api/x/1', headers: { authorization: `Bearer ${'a'.repeat(20_000)}` } });
  assert.equal(big.status, 401);
  assert.match(big.body.toString(), /"error":"token-too-large"/);
});

test('a body that claims JSON and is not: 400 bad-request, nothing forwarded', async () => {
  for (const type of ['application/json', 'application/json; charset=utf-8', 'application/problem+json']) {
    await refused(`bad JSON as ${type}`, { method: 'POST', path: '/api/x/1', headers: { ...auth(), 'content-type': type }, body: '{"rating":' }, 400, 'bad-request');
  }
});

test('an oversized body: 413 body-too-large, with a Content-Length and chunked without one', async () => {
  const body = Buffer.alloc(4_096, 'a');
  await refused('oversized with content-length', { method: 'POST', path: '/api/x/1', headers: { ...auth(), 'content-type': 'text/plain' }, body }, 413, 'body-too-large');
  await refused(
    'oversized chunked',
    { method: 'POST', path: '/api/x/1', headers: { ...auth(), 'content-type': 'text/plain' }, chunks: [body.subarray(0, 1_000), body.subarray(1_000, 2_000), body.subarray(2_000)] },
    413,
    'body-too-large',
  );
  // Just under the bound still goes through.
  const ok = await send(gw.url, { method: 'POST', path: '/api/x/1', headers: { ...auth(), 'content-type': 'text/plain' }, body: body.subarray(0, 1_024) });
  assert.equal(ok.status, 200);
  assert.equal(backend.seen.at(-1)?.body.length, 1_024);
});

test('an unknown route with a valid token: 404; a method the route does not take: 405 with Allow', async () => {
  await refused('unknown route', { path: '/api/nowhere', headers: auth() }, 404, 'route-not-found');
  await refused('unknown route, prefix lookalike', { path: '/api/xy', headers: auth() }, 404, 'route-not-found');
  for (const method of ['DELETE', 'PUT', 'PATCH']) {
    const before = backend.seen.length;
    const reply = await send(gw.url, { method, path: '/api/x/1', headers: auth() });
    const id = assertDenied(reply, 405, 'method-not-allowed', method);
    assert.equal(reply.headers.allow, 'GET, POST');
    assert.equal(backend.seen.length, before);
    expected.set(id, { what: method, decision: 'deny', reason: 'method-not-allowed', status: 405 });
  }
});

test('path traversal and encoded separators: 400 bad-request, nothing reaches the backend', async () => {
  const paths = [
    '/api/x/../y',
    '/api/x/..',
    '/api/x/./1',
    '/api/x/%2e%2e/y',
    '/api/x/%2E%2e/y',
    '/api/x/.%2e/y',
    '/api/x%2Fy',
    '/api/x/a%2fb',
    '/api/x/%5c..%5cy',
    '/api/x/a%00b',
    '/api/x/%zz',
    '/api/x/..\\y',
  ];
  for (const path of paths) await refused(`path ${path}`, { path, headers: auth() }, 400, 'bad-request');
  const raw = await rawExchange(gw.url, `GET /api/x\\..\\y HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  assert.equal(raw.status, 400, raw.text.slice(0, 300));
  assert.match(raw.text, /"error":"bad-request"/);
  assert.equal(backend.seen.filter((s) => !s.url.startsWith('/x/1')).length, 0, 'a traversal reached the backend');
});

test(
  'a "..;" segment (Tomcat/Jetty path parameter) is refused like ".."',
  async () => {
    await refused('..; segment', { path: '/api/x/..;/y', headers: auth() }, 400, 'bad-request');
  },
);

test('garbage bytes, smuggling attempts and truncated requests on a raw socket: a 400 or a closed socket, never a hang', async () => {
  const cases: [string, string | Buffer, boolean][] = [
    ['random bytes', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]), false],
    ['not HTTP', 'HELLO WORLD\r\n\r\n', false],
    ['bad version', 'GET / HTTP/9.9\r\nHost: x\r\n\r\n', false],
    ['space in header name', 'GET /api/x/1 HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', false],
    ['content-length and chunked', `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, false],
    ['two content-lengths', `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`, false],
    ['bad chunk size', `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`, false],
    ['headers cut off, then FIN', 'GET /api/x/1 HTTP/1.1\r\nHost: x\r\nAuthoriz', true],
    ['body cut off, then FIN', `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly ten..`, true],
  ];
  const before = backend.seen.length;
  const recordsBefore = (await gw.auditRecords()).length;
  for (const [what, data, end] of cases) {
    const started = Date.now();
    const raw = await rawExchange(gw.url, data, { end, waitMs: 2_000 });
    assert.ok(raw.closed, `${what}: the connection was left open (${raw.text.slice(0, 100)})`);
    assert.ok(raw.status === 0 || raw.status === 400, `${what}: status ${raw.status}`);
    assert.ok(Date.now() - started < 2_000, `${what}: took too long`);
  }
  assert.equal(backend.seen.length, before, 'a malformed request reached the backend');
  // The ones node's parser refused before a request existed are audited as parser refusals;
  // those that got past the headers with a valid token (a bad chunk, a body cut off) are
  // audited as that request: its user, and the parser's word for what broke.
  const added = (await gw.auditRecords()).slice(recordsBefore);
  const shown = JSON.stringify(added.map((r) => [r.method, r.reason, r.user, r.detail]));
  assert.ok(added.every((r) => r.decision === 'deny'), 'a malformed request was audited as allowed');
  for (const code of ['HPE_INVALID_CHUNK_SIZE', 'HPE_INVALID_EOF_STATE']) {
    const own = added.filter((r) => r.method === 'POST' && r.reason === 'malformed-request' && r.user === 'alice' && (r.detail ?? '').includes(code));
    assert.equal(own.length, 1, `the request whose body broke (${code}) was not audited as itself: ${shown}`);
  }
});

test('a slowloris client trickling headers does not stop others being served', async () => {
  const slow: Socket[] = [];
  const trickle = setInterval(() => {
    for (const s of slow) if (!s.destroyed) s.write('X-Slow: 1\r\n');
  }, 50);
  try {
    for (let i = 0; i < 20; i++) {
      const s = await openSocket(gw.url);
      s.on('error', () => undefined);
      s.write('GET /api/x/1 HTTP/1.1\r\nHost: x\r\n');
      slow.push(s);
    }
    await sleep(150);
    for (let i = 0; i < 3; i++) {
      const reply = await send(gw.url, { path: `/api/x/served-${i}`, headers: auth(), timeoutMs: 1_000 });
      assert.equal(reply.status, 200);
      assert.equal(backend.seen.at(-1)?.url, `/x/served-${i}`);
    }
    assert.ok(slow.every((s) => !s.destroyed), 'the slow connections were dropped early (the test did not exercise them)');
  } finally {
    clearInterval(trickle);
    for (const s of slow) s.destroy();
  }
});

test('after all of it /healthz is 200 and every refusal above was audited with its reason', async () => {
  const health = await send(gw.url, { path: '/healthz' });
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
  assert.ok(expected.size >= 14, `only ${expected.size} expectations`);
  const records = await assertAudited(gw, expected);
  assert.doesNotMatch(JSON.stringify(records), /eyJ[A-Za-z0-9_-]{10,}\./, 'a token reached the audit trail');
});
