import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { send } from './bounded-client.js';
import { assertAudited, assertDenied, manualClock, startQuietIdp, type AuditExpectation } from './e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from './harness.js';

// The gateway caches verified tokens. A cached token must never pass where a fresh verification
// would fail: on a route bound to another issuer, or after it expired. The IdPs and the gateway
// share a clock the tests move by hand: a token expires because the test says so, not by waiting.

let idpA: DevIdp;
let idpB: DevIdp;
let backend: RecordingBackend;
let gw: TestGateway;
const expected = new Map<string, AuditExpectation & { what: string }>();
const clock = manualClock();

before(async () => {
  backend = await startRecordingBackend();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  idpA = await startQuietIdp(publicUrl, clock.now);
  idpB = await startQuietIdp(publicUrl, clock.now);
  gw = await startTestGateway({
    server: { port, publicUrl },
    issuers: [
      // No skew, so that "expired" means expired by the clock (the default allows 60 s).
      { id: 'a', issuer: idpA.issuer, audience: publicUrl, jwksUri: idpA.jwksUri, clockSkewSeconds: 0 },
      { id: 'b', issuer: idpB.issuer, audience: publicUrl, jwksUri: idpB.jwksUri, clockSkewSeconds: 0 },
    ],
    routes: [
      { id: 'ra', path: '/api/a', upstream: `${backend.url}/a`, issuers: ['a'] },
      { id: 'rb', path: '/api/b', upstream: `${backend.url}/b`, issuers: ['b'] },
      { id: 'any', path: '/api/any', upstream: `${backend.url}/any` },
    ],
    policies: [{ id: 'anyone-authenticated', effect: 'allow', match: { routes: ['ra', 'rb', 'any'] } }],
  }, { now: clock.now });
});
after(async () => {
  await gw.close();
  await backend.close();
  await idpA.close();
  await idpB.close();
});

async function call(what: string, path: string, token: string, status: number, reason: string): Promise<void> {
  const before = backend.seen.length;
  const reply = await send(gw.url, { path, headers: { authorization: `Bearer ${token}` } });
  if (status === 200) {
    assert.equal(reply.status, 200, `${what}: ${reply.body}`);
    assert.equal(backend.seen.length, before + 1, `${what}: backend not called`);
    expected.set(String(reply.headers['x-request-id']), { what, decision: 'allow', reason, status });
  } else {
    const id = assertDenied(reply, status, reason, what);
    assert.match(String(reply.headers['www-authenticate']), /^Bearer /, `${what}: no challenge`);
    assert.equal(backend.seen.length, before, `${what}: reached the backend`);
    expected.set(id, { what, decision: 'deny', reason, status });
  }
}

test('a token accepted (and cached) on a route for its issuer is refused on a route bound to another issuer', async () => {
  const a = await idpA.mint('alice');
  const b = await idpB.mint('mallory');
  await call('A on ra', '/api/a/1', a, 200, 'allowed-by-rule');
  await call('A on rb after caching', '/api/b/1', a, 401, 'issuer-not-allowed');
  await call('A on ra again', '/api/a/2', a, 200, 'allowed-by-rule');
  await call('A on rb again', '/api/b/2', a, 401, 'issuer-not-allowed');
  await call('A on a route open to all issuers', '/api/any/1', a, 200, 'allowed-by-rule');
  await call('B on rb', '/api/b/3', b, 200, 'allowed-by-rule');
  await call('B on ra after caching', '/api/a/3', b, 401, 'issuer-not-allowed');
  assert.equal(backend.seen.filter((s) => s.url.startsWith('/b/')).length, 1, 'only B reached the backend behind rb');
  await assertAudited(gw, expected);
});

test('a token accepted and cached before it expired is refused once it has expired', async () => {
  const token = await idpA.mint('bob', { ttlSeconds: 2 });
  const exp = decodeJwt(token).exp!;
  assert.ok(exp * 1000 > clock.now() && exp * 1000 - clock.now() <= 2_000, 'minted on the test clock');
  await call('before expiry', '/api/a/fresh', token, 200, 'allowed-by-rule');
  await call('before expiry, from the cache', '/api/any/fresh', token, 200, 'allowed-by-rule');
  clock.set(exp * 1000 - 1);
  await call('a millisecond before expiry, from the cache', '/api/a/last', token, 200, 'allowed-by-rule');
  clock.advance(1);
  await call('at expiry, cached', '/api/a/stale', token, 401, 'token-expired');
  await call('at expiry, another route', '/api/any/stale', token, 401, 'token-expired');
  await assertAudited(gw, expected);
});
