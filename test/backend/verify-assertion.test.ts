import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { createMemoryReplayCache, createVerifier, isBehalfError, verifyRequest, type VerifiedCaller, type VerifyOptions } from '../../src/backend/index.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { ASSERTION_TYPE, DEFAULT_ASSERTION_HEADER } from '../../src/forward/identity/assertion-claims.js';
import { bodyDigest } from '../../src/lib/digest.js';
import { createAssertionSigner, type AssertionInput } from '../../src/forward/identity/signed-assertion.js';
import { loadSigningKeys, type SigningKeys } from '../../src/forward/identity/signing-keys.js';
import { alice, close, listen, send } from '../forward/fixtures.js';

const AUDIENCE = 'http://hr.internal:8080';
const PATH = '/v1/reviews/bob?year=2024';
const BODY = '{"rating":4}';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

describe('signed assertion, verified by behalf/backend over real HTTP', () => {
  let dir: string;
  let keys: SigningKeys;
  let gateway: Server; // serves the JWKS, as /.well-known/jwks.json does
  let issuer: string;
  let backend: Server;
  let backendUrl: string;
  let jwksHits = 0;
  let passBody = true;
  let options: VerifyOptions;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-assertion-'));
    keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: 'keys.json', rotateAfterDays: 0, overlapSeconds: 3_600 }, { baseDir: dir });
    gateway = createServer((req, res) => {
      jwksHits++;
      if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keys.publicJwks()));
    });
    issuer = await listen(gateway);
    options = { issuer, audience: AUDIENCE, replayCache: createMemoryReplayCache() };
    // A backend as docs/backend.md shows it: raw body in, verifyRequest, 401 with the code on failure.
    backend = createServer(async (req, res) => {
      const body = await readBody(req);
      try {
        const caller = await verifyRequest(options, req, passBody && body.length > 0 ? body : undefined);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(caller));
      } catch (err) {
        res.writeHead(isBehalfError(err, 'jwks-fetch-failed') ? 503 : 401).end(isBehalfError(err) ? err.code : 'crash');
      }
    });
    backendUrl = await listen(backend);
  });
  after(async () => {
    await close(backend);
    await close(gateway);
    await rm(dir, { recursive: true, force: true });
  });

  const signer = (now?: () => number) => createAssertionSigner(keys, now === undefined ? { issuer } : { issuer, now });
  const input = (over: Partial<AssertionInput> = {}): AssertionInput => ({ identity: alice, audience: AUDIENCE, method: 'POST', path: PATH, body: Buffer.from(BODY), ttlSeconds: 30, ...over });
  const call = (token: string | undefined, req: { method?: string; path?: string; body?: string } = {}) =>
    send(backendUrl, {
      method: req.method ?? 'POST',
      path: req.path ?? PATH,
      headers: token === undefined ? {} : { [DEFAULT_ASSERTION_HEADER]: token },
      ...(req.body ?? BODY ? { body: req.body ?? BODY } : {}),
    });
  /** Signs with the gateway's current key but lets the test choose header and claims. */
  const forge = async (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => {
    const { kid, key } = keys.current();
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: issuer, aud: AUDIENCE, sub: 'alice', roles: [], scope: '', idp_iss: alice.issuer, htm: 'POST', htu: PATH, bdg: bodyDigest(BODY), jti: crypto.randomUUID(), iat: now, exp: now + 30 };
    return new SignJWT({ ...base, ...claims }).setProtectedHeader({ alg: 'ES256', kid, typ: ASSERTION_TYPE, ...header }).sign(key);
  };

  it('uses the same default header as the gateway config', () => {
    assert.equal(DEFAULT_ASSERTION_HEADER, DEFAULTS.assertionHeader);
  });

  it('lets a backend read who asked, through which client, with the JWKS fetched from the gateway', async () => {
    const token = await signer().sign(input({ tool: 'submit_review' }));
    const reply = await call(token);
    assert.equal(reply.status, 200, reply.body.toString());
    const caller = JSON.parse(reply.body.toString()) as VerifiedCaller;
    assert.equal(caller.user, 'alice');
    assert.equal(caller.tenant, 'acme');
    assert.equal(caller.email, 'alice@acme.test');
    assert.equal(caller.name, 'Alice Example');
    assert.deepEqual(caller.roles, ['manager', 'employee']);
    assert.deepEqual(caller.groups, ['platform']);
    assert.deepEqual(caller.scopes, ['hr.read', 'hr.write']);
    assert.equal(caller.client, 'chatgpt-connector');
    assert.equal(caller.issuer, alice.issuer);
    assert.equal(caller.tool, 'submit_review');
    assert.equal(caller.claims['iss'], issuer);
    assert.ok((caller.claims['exp'] as number) - (caller.claims['iat'] as number) <= 60);
    const [head] = token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(head ?? '', 'base64url').toString()), { alg: 'ES256', kid: keys.current().kid, typ: ASSERTION_TYPE });
  });

  it('verifies a bodiless GET without a body argument', async () => {
    const token = await signer().sign(input({ method: 'GET', body: undefined }));
    const reply = await send(backendUrl, { method: 'GET', path: PATH, headers: { [DEFAULT_ASSERTION_HEADER]: token } });
    assert.equal(reply.status, 200, reply.body.toString());
  });

  const tamperings: [string, () => Promise<{ token?: string; req?: { method?: string; path?: string; body?: string }; passBody?: boolean }>, string][] = [
    ['no assertion header', async () => ({}), 'assertion-missing'],
    ['another method', async () => ({ token: await signer().sign(input()), req: { method: 'PUT' } }), 'assertion-request-mismatch'],
    ['another path', async () => ({ token: await signer().sign(input()), req: { path: '/v1/reviews/carol?year=2024' } }), 'assertion-request-mismatch'],
    ['another query', async () => ({ token: await signer().sign(input()), req: { path: '/v1/reviews/bob?year=2023' } }), 'assertion-request-mismatch'],
    ['an absolute-form target', async () => ({ token: await signer().sign(input()), req: { path: `http://hr.internal:8080${PATH}` } }), 'assertion-request-mismatch'],
    ['an asterisk-form target', async () => ({ token: await signer().sign(input({ method: 'OPTIONS', body: undefined, path: '*' })), req: { method: 'OPTIONS', path: '*', body: '' } }), 'assertion-request-mismatch'],
    ['another body', async () => ({ token: await signer().sign(input()), req: { body: '{"rating":1}' } }), 'assertion-body-mismatch'],
    ['a body added to a bodiless assertion', async () => ({ token: await signer().sign(input({ body: undefined })) }), 'assertion-body-mismatch'],
    ['a backend that forgets to pass the body', async () => ({ token: await signer().sign(input()), passBody: false }), 'assertion-body-mismatch'],
    ['another audience', async () => ({ token: await signer().sign(input({ audience: 'http://payroll.internal' })) }), 'assertion-audience-mismatch'],
    ['an expired assertion', async () => ({ token: await signer(() => Date.now() - 120_000).sign(input()) }), 'assertion-expired'],
    ['an assertion issued in the future', async () => ({ token: await signer(() => Date.now() + 120_000).sign(input()) }), 'assertion-invalid'],
    ['a lifetime over 60 s', async () => ({ token: await forge({ exp: Math.floor(Date.now() / 1000) + 3_600 }) }), 'assertion-invalid'],
    ['another issuer', async () => ({ token: await forge({ iss: 'https://evil.example' }) }), 'assertion-invalid'],
    ['another typ', async () => ({ token: await forge({}, { typ: 'JWT' }) }), 'assertion-invalid'],
    ['no request binding', async () => ({ token: await forge({ htu: undefined }) }), 'assertion-invalid'],
    ['a signature by a key the gateway never published', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ iss: issuer, aud: AUDIENCE, sub: 'mallory', htm: 'POST', htu: PATH, bdg: bodyDigest(BODY), idp_iss: 'x', jti: 'j', iat: now, exp: now + 30 })
        .setProtectedHeader({ alg: 'ES256', kid: keys.current().kid, typ: ASSERTION_TYPE })
        .sign(privateKey);
      return { token };
    }, 'assertion-invalid'],
    ['alg none', async () => {
      const valid = await forge({ sub: 'mallory' });
      const [, payload] = valid.split('.');
      const head = Buffer.from(JSON.stringify({ alg: 'none', typ: ASSERTION_TYPE })).toString('base64url');
      return { token: `${head}.${payload}.` };
    }, 'assertion-invalid'],
    ['HS256 keyed with the public JWK', async () => {
      const secret = new TextEncoder().encode(JSON.stringify(keys.publicJwks().keys[0]));
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ iss: issuer, aud: AUDIENCE, sub: 'mallory', htm: 'POST', htu: PATH, bdg: bodyDigest(BODY), idp_iss: 'x', jti: 'h', iat: now, exp: now + 30 })
        .setProtectedHeader({ alg: 'HS256', kid: keys.current().kid, typ: ASSERTION_TYPE })
        .sign(secret);
      return { token };
    }, 'assertion-invalid'],
    ['a payload edited after signing', async () => {
      const [h, p, s] = (await forge({})).split('.');
      const edited = { ...(JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as object), sub: 'mallory' };
      return { token: `${h}.${Buffer.from(JSON.stringify(edited)).toString('base64url')}.${s}` };
    }, 'assertion-invalid'],
  ];
  for (const [name, make, code] of tamperings) {
    it(`refuses ${name} with ${code}`, async () => {
      const t = await make();
      passBody = t.passBody ?? true;
      try {
        const reply = await call(t.token, t.req);
        assert.equal(reply.status, 401);
        assert.equal(reply.body.toString(), code);
      } finally {
        passBody = true;
      }
    });
  }

  it('refuses a replayed assertion with assertion-replayed, and accepts a fresh one', async () => {
    const token = await signer().sign(input());
    assert.equal((await call(token)).status, 200);
    const again = await call(token);
    assert.equal(again.status, 401);
    assert.equal(again.body.toString(), 'assertion-replayed');
    assert.equal((await call(await signer().sign(input()))).status, 200);
  });

  it('keeps verifying across a key rotation: retired key during the overlap, new key once the JWKS is refetched', async () => {
    const before = await signer().sign(input());
    const oldKid = keys.current().kid;
    await keys.rotate();
    assert.notEqual(keys.current().kid, oldKid);
    assert.equal((await call(before)).status, 200, 'signed with the retired key, still published');
    const hits = jwksHits;
    const fresh = createVerifier({ issuer, audience: AUDIENCE });
    const token = await signer().sign(input());
    const caller = await fresh.verify({ method: 'POST', url: PATH, headers: { 'x-behalf-assertion': token } }, BODY);
    assert.equal(caller.user, 'alice');
    assert.equal(jwksHits, hits + 1, 'fetched the JWKS once');
    await fresh.verify({ method: 'POST', url: PATH, headers: { 'x-behalf-assertion': await signer().sign(input()) } }, BODY);
    assert.equal(jwksHits, hits + 1, 'and cached it');
  });

  it('picks up a key the gateway rotated to right after the JWKS was fetched, once jwksRefetchMs has passed (not jose’s 30 s)', async () => {
    const verifier = createVerifier({ issuer, audience: AUDIENCE, jwksRefetchMs: 100 });
    const send = async () => verifier.verify({ method: 'POST', url: PATH, headers: { 'x-behalf-assertion': await signer().sign(input()) } }, BODY);
    assert.equal((await send()).user, 'alice');
    await keys.rotate();
    const hits = jwksHits;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await send()).user, 'alice', 'the new key id is fetched once the interval has passed');
    assert.equal(jwksHits, hits + 1);
  });

  it('says jwks-fetch-failed (a 503, not a 401) when the gateway keys cannot be fetched', async () => {
    const dead = createServer();
    const url = await listen(dead);
    await close(dead);
    const verifier = createVerifier({ issuer: url, audience: AUDIENCE });
    const token = await signer().sign(input());
    await assert.rejects(verifier.verify({ method: 'POST', url: PATH, headers: { 'x-behalf-assertion': token } }, BODY), (err: unknown) => isBehalfError(err, 'jwks-fetch-failed'));
  });

  it('verifies against a local key set, with a custom header, and refuses two assertion headers', async () => {
    const verifier = createVerifier({ issuer, audience: AUDIENCE, keys: keys.publicJwks(), header: 'X-Gateway-Assertion' });
    const token = await signer().sign(input());
    const caller = await verifier.verify({ method: 'POST', url: PATH, headers: { 'x-gateway-assertion': token } }, new TextEncoder().encode(BODY));
    assert.equal(caller.user, 'alice');
    await assert.rejects(verifier.verify({ method: 'POST', url: PATH, headers: { 'x-gateway-assertion': `${token}, ${token}` } }, BODY), (err: unknown) => isBehalfError(err, 'assertion-invalid'));
    await assert.rejects(verifier.verify({ method: 'POST', url: PATH, headers: { 'x-behalf-assertion': token } }, BODY), (err: unknown) => isBehalfError(err, 'assertion-missing'));
  });

  it('signs and verifies EdDSA assertions too', async () => {
    const edKeys = await loadSigningKeys({ algorithm: 'EdDSA', keyFile: 'ed.json', rotateAfterDays: 0, overlapSeconds: 0 }, { baseDir: dir });
    const token = await createAssertionSigner(edKeys, { issuer }).sign(input());
    const verifier = createVerifier({ issuer, audience: AUDIENCE, keys: edKeys.publicJwks() });
    const caller = await verifier.verify({ method: 'POST', url: PATH, headers: { 'x-behalf-assertion': token } }, BODY);
    assert.equal(caller.user, 'alice');
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()).alg, 'EdDSA');
  });
});
