import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import { bodyDigest, createVerifier, isBehalfError } from '../../src/backend/index.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { send } from './bounded-client.js';
import { auditRecordOf, bearer, startQuietIdp } from './e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type SeenRequest, type TestGateway } from './harness.js';

// What the backend receives: never the user's token, cookies (unless the route asks for them) or
// identity headers a client made up; always the verified user, in the configured header and in
// an assertion a backend can verify with `behalf/backend`, bound to the exact request.

let idp: DevIdp;
let backend: RecordingBackend;
let gw: TestGateway;

before(async () => {
  backend = await startRecordingBackend();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  idp = await startQuietIdp(publicUrl);
  gw = await startTestGateway({
    server: { port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl, jwksUri: idp.jwksUri }],
    routes: [
      {
        id: 'hr',
        path: '/api/hr',
        upstream: `${backend.url}/v1`,
        audience: 'hr-backend',
        identityHeaders: { 'X-User-Id': '{user.id}' },
        stripHeaders: ['X-Legacy-User'],
      },
      { id: 'web', path: '/api/web', upstream: `${backend.url}/web`, forwardCookies: true },
    ],
    policies: [{ id: 'anyone-authenticated', effect: 'allow', match: { routes: ['hr', 'web'] } }],
  });
});
after(async () => {
  await gw.close();
  await backend.close();
  await idp.close();
});

/** Everything a client might send to pass itself off as someone else. */
const SPOOFED = {
  cookie: 'session=alice-session',
  'proxy-authorization': 'Basic YWxpY2U6c2VjcmV0',
  'x-user-id': ['alice', 'carol'],
  'x-forwarded-user': 'alice',
  'x-behalf-assertion': 'forged.assertion.value',
  'x-tenant-id': 'other-tenant',
  'x-forwarded-for': '203.0.113.66',
  forwarded: 'for=203.0.113.66;by=evil',
  'x-legacy-user': 'alice',
  'x-api-key': 'stolen-key',
  'x-http-method-override': 'DELETE',
  'x-remote-user': 'alice',
};

async function lastSeen(before: number): Promise<SeenRequest> {
  assert.equal(backend.seen.length, before + 1, 'the backend did not get exactly one request');
  return backend.seen.at(-1)!;
}

test('the backend gets the verified user and none of the credentials or identity headers the client sent', async () => {
  const before = backend.seen.length;
  const body = JSON.stringify({ rating: 'exceeds', note: 'ünïcode ✓' });
  const reply = await send(gw.url, {
    method: 'POST',
    path: '/api/hr/reviews/bob?year=2026&tag=a%20b',
    headers: { ...(await bearer(idp, 'bob')), ...SPOOFED, 'content-type': 'application/json' },
    body,
  });
  assert.equal(reply.status, 200, reply.body);
  const seen = await lastSeen(before);
  for (const name of ['authorization', 'cookie', 'proxy-authorization', 'x-forwarded-user', 'x-tenant-id', 'forwarded', 'x-legacy-user', 'x-api-key', 'x-http-method-override', 'x-remote-user']) {
    assert.equal(seen.headers[name], undefined, `${name} reached the backend`);
  }
  assert.equal(seen.headers['x-user-id'], 'bob', 'the identity header is not the verified user');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'the client-sent X-Forwarded-For was kept');
  assert.notEqual(seen.headers['x-behalf-assertion'], SPOOFED['x-behalf-assertion']);
  assert.equal(seen.headers['x-request-id'], reply.headers['x-request-id']);
  assert.equal(seen.method, 'POST');
  assert.equal(seen.url, '/v1/reviews/bob?year=2026&tag=a%20b');
  assert.equal(seen.body.toString('utf8'), body, 'the body was changed on the way');

  const record = await auditRecordOf(gw, String(reply.headers['x-request-id']));
  assert.equal(record.decision, 'allow');
  assert.equal(record.user, 'bob');
  assert.equal(record.bodyDigest, bodyDigest(body));
  assert.match(record.detail ?? '', /x-user-id/, 'the audit record does not say identity headers were stripped');
  assert.doesNotMatch(JSON.stringify(record), /alice|forged|stolen|other-tenant|203\.0\.113/, 'a spoofed header value reached the audit record');
});

test('the assertion verifies with behalf/backend against the gateway JWKS, for the exact method, target and body only', async () => {
  const before = backend.seen.length;
  const body = '{"rating":"meets"}';
  const reply = await send(gw.url, {
    method: 'POST',
    path: '/api/hr/reviews/carol?draft=1',
    headers: { ...(await bearer(idp, 'alice', { client: 'claude' })), 'content-type': 'application/json', 'x-behalf-assertion': 'forged' },
    body,
  });
  assert.equal(reply.status, 200, reply.body);
  const seen = await lastSeen(before);
  const verifier = createVerifier({ issuer: gw.url, audience: 'hr-backend', jwksUrl: `${gw.url}/.well-known/jwks.json` });
  const caller = await verifier.verify(seen, seen.body);
  assert.equal(caller.user, 'alice');
  assert.equal(caller.issuer, idp.issuer);
  assert.equal(caller.client, 'claude');
  assert.deepEqual(caller.roles, ['manager']);

  const refusal = async (what: string, req: SeenRequest, b: Buffer | string | undefined, code: string, v = verifier) => {
    const err = await v.verify(req, b).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isBehalfError(err), `${what}: the assertion was accepted`);
    assert.equal(err.code, code, what);
  };
  await refusal('another path', { ...seen, url: '/v1/reviews/bob?draft=1' }, seen.body, 'assertion-request-mismatch');
  await refusal('another query', { ...seen, url: '/v1/reviews/carol?draft=0' }, seen.body, 'assertion-request-mismatch');
  await refusal('another method', { ...seen, method: 'PUT' }, seen.body, 'assertion-request-mismatch');
  await refusal('another body', seen, '{"rating":"exceeds"}', 'assertion-body-mismatch');
  await refusal('no body passed', seen, undefined, 'assertion-body-mismatch');
  const otherBackend = createVerifier({ issuer: gw.url, audience: 'payroll-backend', jwksUrl: `${gw.url}/.well-known/jwks.json` });
  await refusal('another audience', seen, seen.body, 'assertion-audience-mismatch', otherBackend);
  const otherGateway = createVerifier({ issuer: 'http://127.0.0.1:1', audience: 'hr-backend', jwksUrl: `${gw.url}/.well-known/jwks.json` });
  await refusal('another issuer', seen, seen.body, 'assertion-invalid', otherGateway);
});

test('cookies reach the backend only on a route with forwardCookies; the token never does', async () => {
  const before = backend.seen.length;
  const reply = await send(gw.url, { path: '/api/web/page', headers: { ...(await bearer(idp, 'carol')), ...SPOOFED } });
  assert.equal(reply.status, 200, reply.body);
  const seen = await lastSeen(before);
  assert.equal(seen.headers.cookie, SPOOFED.cookie);
  for (const name of ['authorization', 'proxy-authorization', 'x-user-id', 'x-forwarded-user', 'x-tenant-id']) {
    assert.equal(seen.headers[name], undefined, `${name} reached the backend`);
  }
  assert.notEqual(seen.headers['x-behalf-assertion'], SPOOFED['x-behalf-assertion']);
  // No identity header configured here: the assertion alone names the user, for the default audience (the upstream origin).
  const caller = await createVerifier({ issuer: gw.url, audience: new URL(backend.url).origin }).verify(seen);
  assert.equal(caller.user, 'carol');
});
