import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { send } from './bounded-client.js';
import { assertAudited, assertDenied, auditRecordOf, bearer, startQuietIdp, type AuditExpectation } from './e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from './harness.js';

// A backend that is down, slow, stalls or resets: the client always gets an honest answer (a
// 502/504 refusal, or a connection cut short, never a complete-looking response), the audit
// record says what happened, and the gateway keeps serving. Each test checks its own requests'
// records: any one of them passes alone and in any order.

let idp: DevIdp;
let backend: RecordingBackend;
let gw: TestGateway;
const pending = new Set<NodeJS.Timeout>();

const later = (ms: number, fn: () => void) => {
  const t = setTimeout(() => {
    pending.delete(t);
    fn();
  }, ms);
  pending.add(t);
};

function behave(url: string, res: ServerResponse): void {
  if (url.startsWith('/slow')) {
    // Headers only after 1.5 s: far past the route's 200 ms.
    later(1_500, () => res.destroyed || res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}'));
  } else if (url.startsWith('/stall/fixed')) {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.write('x'.repeat(100));
  } else if (url.startsWith('/stall/head-only')) {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.flushHeaders();
  } else if (url.startsWith('/stall/chunked')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('x'.repeat(100));
  } else if (url.startsWith('/reset/mid-body')) {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.write('x'.repeat(100));
    later(50, () => res.socket?.resetAndDestroy());
  } else if (url.startsWith('/reset/before-head')) {
    res.socket?.resetAndDestroy();
  } else if (url.startsWith('/redirect')) {
    res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere?next=%2Fadmin', 'content-type': 'text/plain', 'content-length': '5' });
    res.end('moved');
  } else {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  }
}

before(async () => {
  backend = await startRecordingBackend((req, res) => behave(req.url ?? '', res));
  const port = await freePort();
  const closedPort = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  idp = await startQuietIdp(publicUrl);
  const routes = [
    { id: 'ok', path: '/api/ok', upstream: backend.url },
    { id: 'down', path: '/api/down', upstream: `http://127.0.0.1:${closedPort}` },
    { id: 'slow', path: '/api/slow', upstream: `${backend.url}/slow`, timeoutMs: 200 },
    { id: 'stall', path: '/api/stall', upstream: `${backend.url}/stall`, timeoutMs: 300 },
    { id: 'reset', path: '/api/reset', upstream: `${backend.url}/reset` },
    { id: 'redirect', path: '/api/redirect', upstream: `${backend.url}/redirect` },
  ];
  gw = await startTestGateway({
    server: { port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl, jwksUri: idp.jwksUri }],
    routes,
    policies: [{ id: 'anyone-authenticated', effect: 'allow', match: { routes: routes.map((r) => r.id) } }],
  });
});
after(async () => {
  for (const t of pending) clearTimeout(t);
  await gw.close();
  await backend.close();
  await idp.close();
});

/** Waits for the audit record of `requestId` (a cut response is audited after the cut), then checks it. */
async function assertRecord(requestId: string, e: AuditExpectation & { what: string }): Promise<void> {
  await auditRecordOf(gw, requestId);
  await assertAudited(gw, new Map([[requestId, e]]));
}

test('a backend that is down: 502 upstream-unavailable with the JSON refusal', async () => {
  const reply = await send(gw.url, { path: '/api/down/x', headers: await bearer(idp, 'alice') });
  const id = assertDenied(reply, 502, 'upstream-unavailable', 'down');
  await assertRecord(id, { what: 'down', decision: 'deny', reason: 'upstream-unavailable', status: 502, route: 'down', user: 'alice' });
});

test('a backend that resets the connection before answering: 502 upstream-unavailable', async () => {
  const before = backend.seen.length;
  const reply = await send(gw.url, { path: '/api/reset/before-head', headers: await bearer(idp, 'alice') });
  const id = assertDenied(reply, 502, 'upstream-unavailable', 'reset before head');
  assert.equal(backend.seen.length, before + 1, 'the request was retried or never sent');
  await assertRecord(id, { what: 'reset before head', decision: 'deny', reason: 'upstream-unavailable', status: 502 });
});

test('a backend slower than routes[].timeoutMs: 504 upstream-timeout after about that time, not after the backend', async () => {
  const headers = await bearer(idp, 'alice');
  const started = Date.now();
  // A normal request sent meanwhile is not held up by the slow one.
  const [slow, normal] = await Promise.all([send(gw.url, { path: '/api/slow/report', headers }), send(gw.url, { path: '/api/ok/fast', headers })]);
  const elapsed = Date.now() - started;
  const id = assertDenied(slow, 504, 'upstream-timeout', 'slow');
  assert.ok(elapsed >= 150 && elapsed < 1_000, `504 after ${elapsed} ms (timeout 200 ms, backend answers at 1 500 ms)`);
  assert.equal(normal.status, 200);
  await assertRecord(id, { what: 'slow', decision: 'deny', reason: 'upstream-timeout', status: 504, route: 'slow' });
});

for (const kind of ['fixed', 'chunked'] as const) {
  test(`a backend that stalls mid-body (${kind} length): the client sees a cut connection, and the audit record says so`, async () => {
    const started = Date.now();
    const reply = await send(gw.url, { path: `/api/stall/${kind}`, headers: await bearer(idp, 'alice') });
    assert.equal(reply.status, 200, 'the head had already gone out');
    assert.equal(reply.complete, false, 'a stalled response looked complete to the client');
    assert.equal(reply.body, 'x'.repeat(100));
    assert.ok(Date.now() - started < 1_500, 'the cut came long after the route timeout');
    const record = await auditRecordOf(gw, String(reply.headers['x-request-id']));
    assert.equal(record.decision, 'deny');
    assert.equal(record.reason, 'upstream-timeout');
    assert.equal(record.upstreamStatus, 200);
    assert.equal(record.route, 'stall');
  });
}

test('a backend that sends a fixed-length head and then nothing: as no byte went out, the client gets a 504 refusal, audited as 504', async () => {
  const reply = await send(gw.url, { path: '/api/stall/head-only', headers: await bearer(idp, 'carol') });
  const id = assertDenied(reply, 504, 'upstream-timeout', 'head-only stall');
  await assertRecord(id, { what: 'head-only stall', decision: 'deny', reason: 'upstream-timeout', status: 504, route: 'stall', user: 'carol' });
});

test('a backend that resets mid-response: the client sees a cut connection, audited as upstream-error', async () => {
  const reply = await send(gw.url, { path: '/api/reset/mid-body', headers: await bearer(idp, 'alice') });
  assert.equal(reply.status, 200);
  assert.equal(reply.complete, false, 'a reset response looked complete to the client');
  assert.ok(reply.body.length < 1_000);
  const record = await auditRecordOf(gw, String(reply.headers['x-request-id']));
  assert.equal(record.decision, 'deny');
  assert.equal(record.reason, 'upstream-error');
  assert.equal(record.upstreamStatus, 200);
});

test('an upstream redirect is returned as is, not followed', async () => {
  const before = backend.seen.length;
  const reply = await send(gw.url, { path: '/api/redirect/old', headers: await bearer(idp, 'alice') });
  assert.equal(reply.status, 302);
  assert.equal(reply.headers.location, 'http://127.0.0.1:9/elsewhere?next=%2Fadmin');
  assert.equal(reply.body, 'moved');
  assert.equal(backend.seen.length, before + 1, 'the backend saw more than the one request');
  assert.equal(backend.seen.at(-1)?.url, '/redirect/old');
  await assertRecord(String(reply.headers['x-request-id']), { what: 'redirect', decision: 'allow', reason: 'allowed-by-rule', status: 302, upstreamStatus: 302 });
});

test('after a backend down, a reset, a stall and a timeout, the gateway still serves, and audits every one', async () => {
  const headers = await bearer(idp, 'bob');
  const failures = await Promise.all(
    ['/api/down/again', '/api/reset/before-head', '/api/reset/mid-body', '/api/stall/chunked', '/api/slow/again'].map((path) => send(gw.url, { path, headers })),
  );
  assert.deepEqual(
    failures.map((r) => [r.status, r.complete]),
    [[502, true], [502, true], [200, false], [200, false], [504, true]],
  );
  const before = backend.seen.length;
  const reply = await send(gw.url, { path: '/api/ok/after', headers });
  assert.equal(reply.status, 200);
  assert.equal(reply.body, '{"ok":true}');
  assert.equal(backend.seen.length, before + 1);
  assert.equal((await send(gw.url, { path: '/healthz' })).status, 200);
  const reasons = ['upstream-unavailable', 'upstream-unavailable', 'upstream-error', 'upstream-timeout', 'upstream-timeout'];
  for (const [i, failure] of failures.entries()) {
    await assertRecord(String(failure.headers['x-request-id']), { what: `failure ${i}`, decision: 'deny', reason: reasons[i]!, user: 'bob' });
  }
  await assertRecord(String(reply.headers['x-request-id']), { what: 'after', decision: 'allow', reason: 'allowed-by-rule', status: 200, user: 'bob' });
});
