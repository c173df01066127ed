import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { send, type Reply } from './bounded-client.js';
import { assertDenied, bearer, startQuietIdp } from './e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from './harness.js';

// The unauthenticated endpoints a client, a backend or an operator relies on: protected resource
// metadata (RFC 9728), the gateway's public keys, health, readiness and metrics.

let idp: DevIdp;
let backend: RecordingBackend;
let gw: TestGateway;
let publicUrl: string;

before(async () => {
  backend = await startRecordingBackend();
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  idp = await startQuietIdp(publicUrl);
  gw = await startTestGateway({
    server: { port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl }],
    routes: [
      { id: 'hr', path: '/api/hr', upstream: `${backend.url}/v1`, audience: 'hr-backend' },
      { id: 'ops', path: '/api/ops/', upstream: `${backend.url}/ops` },
    ],
    policies: [
      { id: 'read', effect: 'allow', match: { routes: ['hr'], methods: ['GET'] }, scopes: ['reviews:read'] },
      { id: 'write', effect: 'allow', match: { routes: ['hr'], methods: ['POST'] }, scopes: ['reviews:write'] },
      { id: 'ops', effect: 'allow', match: { routes: ['ops'] }, scopes: ['ops:admin'] },
    ],
  });
});
after(async () => {
  await gw.close();
  await backend.close();
  await idp.close();
});

const json = (r: Reply) => JSON.parse(r.body) as Record<string, unknown>;

test('protected resource metadata for the gateway root and for each route', async () => {
  const root = await send(gw.url, { path: '/.well-known/oauth-protected-resource' });
  assert.equal(root.status, 200);
  assert.equal(json(root)['resource'], publicUrl);
  assert.deepEqual(json(root)['authorization_servers'], [idp.issuer]);
  assert.deepEqual([...(json(root)['scopes_supported'] as string[])].sort(), ['ops:admin', 'reviews:read', 'reviews:write']);

  const hr = await send(gw.url, { path: '/.well-known/oauth-protected-resource/api/hr' });
  assert.equal(hr.status, 200);
  assert.equal(json(hr)['resource'], `${publicUrl}/api/hr`);
  assert.deepEqual(json(hr)['authorization_servers'], [idp.issuer]);
  assert.deepEqual([...(json(hr)['scopes_supported'] as string[])].sort(), ['reviews:read', 'reviews:write']);

  const ops = await send(gw.url, { path: '/.well-known/oauth-protected-resource/api/ops' });
  assert.equal(ops.status, 200);
  assert.equal(json(ops)['resource'], `${publicUrl}/api/ops`);
  assert.deepEqual(json(ops)['scopes_supported'], ['ops:admin']);
});

test('the metadata named by a 401 challenge exists and names the route as the resource', async () => {
  const reply = await send(gw.url, { path: '/api/ops/restart' });
  assertDenied(reply, 401, 'token-missing', 'no token');
  const url = /resource_metadata="([^"]+)"/.exec(String(reply.headers['www-authenticate']))?.[1];
  assert.equal(url, `${publicUrl}/.well-known/oauth-protected-resource/api/ops`);
  const metadata = await send(gw.url, { path: new URL(url).pathname });
  assert.equal(metadata.status, 200);
  assert.equal(json(metadata)['resource'], `${publicUrl}/api/ops`);
});

test('metadata for a path that is no protected resource: 404', async () => {
  for (const path of ['/.well-known/oauth-protected-resource/api/nope', '/.well-known/oauth-protected-resource/api/hr/reviews', '/.well-known/oauth-protected-resource/api', '/.well-known/nothing-here']) {
    const reply = await send(gw.url, { path });
    assert.equal(reply.status, 404, path);
    assert.equal(json(reply)['error'], 'route-not-found', path);
  }
  const post = await send(gw.url, { method: 'POST', path: '/.well-known/jwks.json', body: '{}' });
  assert.equal(post.status, 405);
  assert.match(String(post.headers.allow), /GET/);
});

test('the JWKS holds the ES256 public key that signs assertions, with a kid and no private members', async () => {
  const reply = await send(gw.url, { path: '/.well-known/jwks.json' });
  assert.equal(reply.status, 200);
  const keys = json(reply)['keys'] as Record<string, unknown>[];
  assert.ok(keys.length >= 1);
  for (const key of keys) {
    assert.equal(key['kty'], 'EC');
    assert.equal(key['crv'], 'P-256');
    assert.equal(key['alg'], 'ES256');
    assert.ok(typeof key['kid'] === 'string' && key['kid'] !== '', 'no kid');
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(key[secret], undefined, `private member "${secret}" published`);
  }
  const before = backend.seen.length;
  const ok = await send(gw.url, { path: '/api/hr/x', headers: await bearer(idp, 'alice') });
  assert.equal(ok.status, 200, ok.body);
  assert.equal(backend.seen.length, before + 1);
  const { kid, alg } = decodeProtectedHeader(String(backend.seen.at(-1)?.headers['x-behalf-assertion']));
  assert.equal(alg, 'ES256');
  assert.ok(keys.some((k) => k['kid'] === kid), 'the assertion key is not in the published JWKS');
});

test('/healthz 200; /readyz 200 with the IdP keys reachable; /metrics counts and times requests', async () => {
  assert.equal((await send(gw.url, { path: '/healthz' })).status, 200);
  const ready = await send(gw.url, { path: '/readyz' });
  assert.equal(ready.status, 200, ready.body);
  assert.equal(json(ready)['ready'], true);
  assert.deepEqual((json(ready)['checks'] as Record<string, unknown>)['jwks:dev'], { ok: true });
  await send(gw.url, { path: '/api/hr/y', headers: await bearer(idp, 'bob') });
  const metrics = await send(gw.url, { path: '/metrics' });
  assert.equal(metrics.status, 200);
  assert.match(String(metrics.headers['content-type']), /^text\/plain/);
  assert.match(metrics.body, /^behalf_requests_total\{[^}]*route="hr"[^}]*decision="allow"[^}]*\} [1-9]/m);
  assert.match(metrics.body, /^behalf_requests_total\{[^}]*decision="deny"[^}]*reason="token-missing"[^}]*\} [1-9]/m);
  // Every request's time is observed, allowed and denied alike.
  assert.match(metrics.body, /^behalf_request_duration_seconds_count\{door="http",decision="allow"\} [1-9]/m);
  assert.match(metrics.body, /^behalf_request_duration_seconds_count\{door="http",decision="deny"\} [1-9]/m);
});

test(
  'health probes with a query string (cache busters) are still answered as probes',
  async () => {
    assert.equal((await send(gw.url, { path: '/healthz?t=1' })).status, 200);
  },
);

test('/readyz is 503 naming the failed check when the IdP cannot be reached; its tokens get 503, not 401', async () => {
  const port = await freePort();
  const closed = await freePort();
  const deadIssuer = `http://127.0.0.1:${closed}`;
  const down = await startTestGateway({
    server: { port, publicUrl: `http://127.0.0.1:${port}` },
    issuers: [{ id: 'gone', issuer: deadIssuer, audience: publicUrl }],
    routes: [{ id: 'hr', path: '/api/hr', upstream: backend.url }],
    policies: [{ id: 'any', effect: 'allow', match: { routes: ['hr'] } }],
  });
  try {
    const ready = await send(down.url, { path: '/readyz' });
    assert.equal(ready.status, 503, ready.body);
    const body = json(ready);
    assert.equal(body['ready'], false);
    const check = (body['checks'] as Record<string, { ok: boolean; detail?: string }>)['jwks:gone'];
    assert.equal(check?.ok, false);
    assert.ok(check.detail !== undefined && check.detail !== '', 'the failed check has no detail');
    assert.equal((await send(down.url, { path: '/healthz' })).status, 200, 'liveness must not follow the IdP');

    const before = backend.seen.length;
    const token = await idp.mint('alice', { claims: { iss: deadIssuer } });
    const reply = await send(down.url, { path: '/api/hr/x', headers: { authorization: `Bearer ${token}` } });
    assertDenied(reply, 503, 'idp-unavailable', 'IdP down');
    assert.ok(reply.headers['retry-after'], 'no Retry-After');
    assert.equal(backend.seen.length, before);
  } finally {
    await down.close();
  }
});
