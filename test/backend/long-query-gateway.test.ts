import assert from 'node:assert/strict';
import { createServer, maxHeaderSize, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createVerifier, isBehalfError, MAX_INLINE_TARGET_BYTES, queryDigest, type Verifier } from '../../src/backend/index.js';
import { close, listen, send } from '../forward/fixtures.js';
import { startRouteGateway, type RouteGateway } from '../forward/route-gateway.js';

// The issue: an allowed GET with an 8 KB query got 431 from the backend, because `htu` repeated
// the query inside the base64url assertion. Through the real gateway and a node:http backend with
// node's default header limit, the long query now arrives, verifies, and a changed one does not.

describe('an allowed GET with an 8 KB query, through the gateway to a verifying backend', () => {
  let backend: Server;
  let gw: RouteGateway;
  let verifier: Verifier;
  let backendUrl: string;
  const seen: { url: string; assertion: string }[] = [];

  before(async () => {
    backend = createServer((req, res) => {
      const assertion = req.headers['x-behalf-assertion'];
      seen.push({ url: req.url ?? '', assertion: typeof assertion === 'string' ? assertion : '' });
      verifier.verify(req).then(
        (caller) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ user: caller.user })),
        (err: unknown) => res.writeHead(401).end(isBehalfError(err) ? err.code : 'crash'),
      );
    });
    backendUrl = await listen(backend);
    gw = await startRouteGateway({ routes: [{ id: 'hr', path: '/api/hr', upstream: `${backendUrl}/v1`, audience: 'hr-backend' }] });
    verifier = createVerifier({ issuer: gw.publicUrl, audience: 'hr-backend', jwksUrl: `${gw.url}/.well-known/jwks.json` });
  });
  after(async () => {
    await gw.close();
    await close(backend);
  });

  const query = Array.from({ length: 132 }, (_, i) => `f${i}=${'v'.repeat(58)}`).join('&');

  it('reaches the backend, which verifies the query by its digest', async () => {
    assert.ok(query.length >= 8 * 1024 && query.length < maxHeaderSize, `query of ${query.length} bytes`);
    const reply = await send(gw.url, { method: 'GET', path: `/api/hr/search?${query}`, headers: await gw.auth() });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.deepEqual(JSON.parse(reply.body.toString()), { user: 'alice' });
    const last = seen.at(-1);
    assert.ok(last !== undefined);
    assert.equal(last.url, `/v1/search?${query}`);
    const claims = JSON.parse(Buffer.from(last.assertion.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims['htu'], '/v1/search');
    assert.equal(claims['htq'], queryDigest(query));
    assert.ok(last.assertion.length < 2 * MAX_INLINE_TARGET_BYTES, `assertion of ${last.assertion.length} chars`);
  });

  it('refuses that assertion for the same path with a changed query', async () => {
    await send(gw.url, { method: 'GET', path: `/api/hr/search?${query}`, headers: await gw.auth() });
    const { assertion } = seen.at(-1) ?? { assertion: '' };
    const bad = await send(backendUrl, {
      method: 'GET',
      path: `/v1/search?${query.replace('f0=', 'f0=x')}`,
      headers: { 'x-behalf-assertion': assertion },
    });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.toString(), 'assertion-request-mismatch');
  });

  it('keeps a short query in htu, as before', async () => {
    const reply = await send(gw.url, { method: 'GET', path: '/api/hr/reviews/bob?year=2024', headers: await gw.auth() });
    assert.equal(reply.status, 200, reply.body.toString());
    const claims = JSON.parse(Buffer.from((seen.at(-1)?.assertion ?? '').split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims['htu'], '/v1/reviews/bob?year=2024');
    assert.equal('htq' in claims, false);
  });
});
