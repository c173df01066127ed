import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createAuthenticator, type AuthResult } from '../../src/authenticate/index.js';
import type { IssuerConfig } from '../../src/config/schema.js';
import { isBehalfError } from '../../src/errors.js';
import { aliceClaims, bearer, startTestIdp, type TestIdp } from './test-idp.js';

const T0 = 1_800_000_000_000; // a fixed "now", ms
const idps: TestIdp[] = [];
afterEach(async () => {
  await Promise.all(idps.splice(0).map((i) => i.close()));
});
async function idp(path?: string, id?: string): Promise<TestIdp> {
  const i = await startTestIdp(path, id);
  idps.push(i);
  return i;
}
function reason(r: AuthResult): string {
  return r.ok ? 'ok' : r.decision.reason;
}

describe('issuer discovery', () => {
  it('finds the JWKS through OpenID Connect discovery', async () => {
    const i = await idp('/tenant1');
    i.serve8414 = false;
    const auth = createAuthenticator({ issuers: [i.config()], maxTokenBytes: 16_384, now: () => T0 });
    const r = await auth.authenticate(bearer(await i.sign(aliceClaims(i, T0))));
    assert.equal(reason(r), 'ok');
    assert.equal(r.ok && r.identity.id, 'alice');
    assert.deepEqual(r.ok && r.identity.scopes, ['a', 'b']);
  });

  it('falls back to RFC 8414 metadata with the issuer path after the well-known segment', async () => {
    const i = await idp('/tenant1');
    i.serveOidc = false;
    const auth = createAuthenticator({ issuers: [i.config()], maxTokenBytes: 16_384, now: () => T0 });
    assert.equal(reason(await auth.authenticate(bearer(await i.sign(aliceClaims(i, T0))))), 'ok');
  });

  it('refuses a discovery document that names another issuer (503 idp-unavailable)', async () => {
    const i = await idp('/tenant1');
    i.documentIssuer = 'https://someone-else.example';
    const auth = createAuthenticator({ issuers: [i.config()], maxTokenBytes: 16_384, now: () => T0 });
    const r = await auth.authenticate(bearer(await i.sign(aliceClaims(i, T0))));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.decision.status, 503);
    assert.equal(reason(r), 'idp-unavailable');
    assert.equal(i.hits.jwks, 0, 'keys were fetched from an unverified document');
    const [status] = await auth.warm();
    assert.equal(status?.ok, false);
    assert.match(status?.error ?? '', /does not match/);
  });

  it('uses an explicit jwksUri without discovery', async () => {
    const i = await idp('/tenant1');
    i.serveOidc = false;
    i.serve8414 = false;
    const auth = createAuthenticator({ issuers: [i.config({ jwksUri: `${i.origin}/keys/tenant1` })], maxTokenBytes: 16_384, now: () => T0 });
    assert.equal(reason(await auth.authenticate(bearer(await i.sign(aliceClaims(i, T0))))), 'ok');
    assert.equal(i.hits.discovery, 0);
  });

  it('warm() reports each issuer and never throws', async () => {
    const good = await idp('/good', 'good');
    const bad = await idp('/bad', 'bad');
    bad.jwksStatus = 500;
    const auth = createAuthenticator({ issuers: [good.config(), bad.config()], maxTokenBytes: 16_384, now: () => T0 });
    const statuses = await auth.warm();
    assert.deepEqual(statuses.map((s) => [s.issuerId, s.ok]), [['good', true], ['bad', false]]);
    assert.match(statuses[1]?.error ?? '', /HTTP 500/);
  });
});

describe('JWKS availability and refresh', () => {
  it('answers 503 idp-unavailable while the JWKS is down, and fetches again once minIntervalMs has passed', async () => {
    const i = await idp();
    i.jwksStatus = 500;
    let now = T0;
    const auth = createAuthenticator({ issuers: [i.config({ jwksRefetch: { minIntervalMs: 2_000 } })], maxTokenBytes: 16_384, now: () => now });
    const token = await i.sign(aliceClaims(i, T0));
    const r = await auth.authenticate(bearer(token));
    assert.equal(!r.ok && r.decision.status, 503);
    assert.equal(reason(r), 'idp-unavailable');
    i.jwksStatus = 200;
    const hits = i.hits.jwks;
    assert.equal(reason(await auth.authenticate(bearer(token))), 'idp-unavailable', 'fetched again inside minIntervalMs');
    assert.equal(i.hits.jwks, hits, 'the IdP was hammered during its outage');
    now += 2_000;
    assert.equal(reason(await auth.authenticate(bearer(token))), 'ok');
  });

  it('times out a JWKS request that never answers', async () => {
    const i = await idp();
    i.jwksHang = true;
    const auth = createAuthenticator({ issuers: [i.config()], maxTokenBytes: 16_384, now: () => T0, fetchTimeoutMs: 150 });
    const started = Date.now();
    const r = await auth.authenticate(bearer(await i.sign(aliceClaims(i, T0))));
    assert.equal(reason(r), 'idp-unavailable');
    assert.ok(Date.now() - started < 3_000);
    assert.match((!r.ok && r.decision.detail) || '', /timed out/);
  });

  it('keeps using the last keys when the refresh of an old set fails', async () => {
    const i = await idp();
    let now = T0;
    const auth = createAuthenticator({ issuers: [i.config()], maxTokenBytes: 16_384, now: () => now, jwksMaxAgeMs: 60_000, cacheEntries: 0 });
    assert.equal(reason(await auth.authenticate(bearer(await i.sign(aliceClaims(i, T0))))), 'ok');
    i.jwksStatus = 503;
    now += 120_000;
    assert.equal(reason(await auth.authenticate(bearer(await i.sign(aliceClaims(i, now, { jti: 'late' }))))), 'ok');
    const failed = () => /last fetch failed/.test(auth.keyStatus()[0]?.detail ?? '');
    for (let n = 0; n < 400 && !failed(); n++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(i.hits.jwks, 2, 'the old set was not refreshed');
    const [status] = auth.keyStatus();
    assert.equal(status?.ok, true, 'keys are still held');
    assert.match(status?.detail ?? '', /last fetch failed .*HTTP 503/);
  });
});

describe('routing and route constraints', () => {
  it('rejects a valid token of one configured issuer on a route bound to another', async () => {
    const a = await idp('/a', 'a');
    const b = await idp('/b', 'b');
    const auth = createAuthenticator({ issuers: [a.config(), b.config()], maxTokenBytes: 16_384, now: () => T0 });
    const tokenB = await b.sign(aliceClaims(b, T0));
    assert.equal(reason(await auth.authenticate(bearer(tokenB), { allowedIssuers: ['a'] })), 'issuer-not-allowed');
    const r = await auth.authenticate(bearer(tokenB), { allowedIssuers: ['b'] });
    assert.equal(r.ok && r.identity.issuerId, 'b');
  });

  it('accepts the audience override instead of the configured audience (MCP resource URL)', async () => {
    const i = await idp();
    const auth = createAuthenticator({ issuers: [i.config()], maxTokenBytes: 16_384, now: () => T0 });
    const token = await i.sign(aliceClaims(i, T0, { aud: 'https://gw.test/mcp' }));
    assert.equal(reason(await auth.authenticate(bearer(token))), 'audience-mismatch');
    assert.equal(reason(await auth.authenticate(bearer(token), { audience: ['https://gw.test/mcp'] })), 'ok');
  });

  it('picks among issuer entries that share one iss by their audience', async () => {
    const i = await idp('/shared');
    const one = i.config({ id: 'one', audience: 'https://one.test' });
    const two = i.config({ id: 'two', audience: 'https://two.test' });
    const auth = createAuthenticator({ issuers: [one, two], maxTokenBytes: 16_384, now: () => T0 });
    const r = await auth.authenticate(bearer(await i.sign(aliceClaims(i, T0, { aud: 'https://two.test' }))));
    assert.equal(r.ok && r.identity.issuerId, 'two');
  });
});

describe('verified-token cache', () => {
  it('serves a repeated token from the cache (same identity object)', async () => {
    const i = await idp();
    const auth = createAuthenticator({ issuers: [i.config()], maxTokenBytes: 16_384, now: () => T0 });
    const token = await i.sign(aliceClaims(i, T0));
    const r1 = await auth.authenticate(bearer(token));
    const r2 = await auth.authenticate(bearer(token));
    assert.ok(r1.ok && r2.ok);
    assert.equal(r1.identity, r2.identity);
    assert.ok(Object.isFrozen(r1.identity) && Object.isFrozen(r1.identity.roles));
  });

  it('never lets a cached success through on a route where the token would fail', async () => {
    const a = await idp('/a', 'a');
    const b = await idp('/b', 'b');
    const auth = createAuthenticator({ issuers: [a.config(), b.config()], maxTokenBytes: 16_384, now: () => T0 });
    const token = await a.sign(aliceClaims(a, T0));
    assert.equal(reason(await auth.authenticate(bearer(token))), 'ok');
    assert.equal(reason(await auth.authenticate(bearer(token), { allowedIssuers: ['b'] })), 'issuer-not-allowed');
    assert.equal(reason(await auth.authenticate(bearer(token), { audience: ['https://gw.test/mcp'] })), 'audience-mismatch');
    assert.equal(reason(await auth.authenticate(bearer(token), { allowedIssuers: ['a'] })), 'ok');
  });

  it('never uses a cached entry at or after exp', async () => {
    const i = await idp();
    let now = T0;
    const auth = createAuthenticator({ issuers: [i.config({ clockSkewSeconds: 0 })], maxTokenBytes: 16_384, now: () => now });
    const token = await i.sign(aliceClaims(i, T0, { exp: T0 / 1000 + 10 }));
    assert.equal(reason(await auth.authenticate(bearer(token))), 'ok');
    now = T0 + 9_000;
    assert.equal(reason(await auth.authenticate(bearer(token))), 'ok');
    now = T0 + 10_000;
    assert.equal(reason(await auth.authenticate(bearer(token))), 'token-expired');
  });

  it('is bounded: the least recently used token is evicted', async () => {
    const i = await idp();
    const auth = createAuthenticator({ issuers: [i.config()], maxTokenBytes: 16_384, now: () => T0, cacheEntries: 2 });
    const [ta, tb, tc] = await Promise.all(['a', 'b', 'c'].map((j) => i.sign(aliceClaims(i, T0, { jti: j }))));
    const id = async (t: string) => {
      const r = await auth.authenticate(bearer(t));
      assert.ok(r.ok);
      return r.identity;
    };
    const a1 = await id(ta!);
    await id(tb!);
    assert.equal(await id(ta!), a1, 'a should still be cached');
    await id(tc!); // evicts b (least recently used)
    assert.equal(await id(ta!), a1, 'a was evicted instead of b');
    const b2 = await id(tb!);
    await id(tc!);
    assert.equal(await id(tb!), b2);
  });
});

describe('algorithm guard', () => {
  it('refuses an issuer configured only with forbidden algorithms', () => {
    const cfg = { ...({} as IssuerConfig), id: 'x', issuer: 'https://x.test', audience: ['a'], algorithms: ['HS256'], clockSkewSeconds: 0, claims: { preset: 'generic', map: {} } } as unknown as IssuerConfig;
    assert.throws(() => createAuthenticator({ issuers: [cfg], maxTokenBytes: 16_384 }), (e) => isBehalfError(e, 'config-invalid'));
  });

  it('never accepts HS256 even when an issuer lists it next to RS256', async () => {
    const i = await idp();
    const cfg = { ...i.config(), algorithms: ['RS256', 'ES256', 'HS256'] } as unknown as IssuerConfig;
    const auth = createAuthenticator({ issuers: [cfg], maxTokenBytes: 16_384, now: () => T0 });
    const { SignJWT } = await import('jose');
    const forged = await new SignJWT(aliceClaims(i, T0)).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode(JSON.stringify(i.keys[0]!.jwk)));
    const r = await auth.authenticate(bearer(forged));
    assert.equal(reason(r), 'token-invalid');
    assert.match((!r.ok && r.decision.detail) || '', /HS256 not allowed/);
  });
});
