import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { createAuthenticator, type Authenticator } from '../../src/authenticate/index.js';
import { issuerSchema } from '../../src/config/schema.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { send } from '../authenticate/http-helpers.js';

const USERS = [
  { id: 'alice', name: 'Alice', email: 'alice@example.com', roles: ['manager'], groups: ['platform'] },
  { id: 'bob', name: 'Bob <b>', email: 'bob@example.com' },
];
const API = 'https://api.example';
const MCP = 'https://gw.example/mcp';

const form = (params: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params).toString(),
});
const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

describe('dev IdP', () => {
  let idp: DevIdp;
  let auth: Authenticator;
  let now = 1_800_000_000_000;
  const logs: string[] = [];

  before(async () => {
    idp = await startDevIdp({ users: USERS, audience: [API, MCP], defaultScopes: ['reviews:read'], now: () => now, log: (l) => logs.push(l) });
    auth = createAuthenticator({
      issuers: [issuerSchema.parse({ id: 'dev', issuer: idp.issuer, audience: API, requireType: 'at+jwt' })],
      maxTokenBytes: 16_384,
      now: () => now,
    });
  });
  after(async () => {
    await idp?.close();
  });

  async function authorize(params: Record<string, string>) {
    return send(idp.url, `/authorize?${new URLSearchParams(params).toString()}`);
  }

  async function codeFor(clientId: string, redirectUri: string, challenge: string, extra: Record<string, string> = {}) {
    const res = await authorize({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', state: 's1', login_hint: 'alice', ...extra });
    assert.equal(res.status, 302, res.body);
    const loc = new URL(res.headers.location!);
    return loc;
  }

  it('says DEV ONLY when it starts and in its metadata', async () => {
    assert.ok(logs.some((l) => l.includes('DEV ONLY')));
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const res = await send(idp.url, path);
      assert.equal(res.status, 200);
      const doc = JSON.parse(res.body) as Record<string, unknown>;
      assert.equal(doc.dev_only, true);
      assert.equal(doc.issuer, idp.issuer);
      assert.equal(doc.jwks_uri, idp.jwksUri);
      assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(doc.response_types_supported, ['code']);
      assert.deepEqual(doc.token_endpoint_auth_methods_supported, ['none']);
      assert.equal(doc.registration_endpoint, `${idp.issuer}/register`);
    }
  });

  it('serves its public RS256 key with a kid, and no private part', async () => {
    const res = await send(idp.url, '/jwks');
    const { keys } = JSON.parse(res.body) as { keys: Record<string, unknown>[] };
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.alg, 'RS256');
    assert.equal(typeof keys[0]!.kid, 'string');
    assert.equal(keys[0]!.d, undefined);
  });

  it('mints tokens the authenticator accepts, with the user mapped', async () => {
    const token = await idp.mint('alice', { scopes: ['reviews:read', 'reviews:write'], client: 'claude' });
    const r = await auth.authenticate({ headers: { authorization: `Bearer ${token}` }, rawHeaders: ['Authorization', `Bearer ${token}`], url: '/' });
    assert.ok(r.ok, r.ok ? '' : r.decision.detail);
    assert.equal(r.identity.id, 'alice');
    assert.equal(r.identity.email, 'alice@example.com');
    assert.deepEqual(r.identity.roles, ['manager']);
    assert.deepEqual(r.identity.groups, ['platform']);
    assert.deepEqual(r.identity.scopes, ['reviews:read', 'reviews:write']);
    assert.equal(r.identity.client, 'claude');
    await assert.rejects(idp.mint('mallory'));
  });

  it('completes the PKCE authorization-code flow over HTTP, with the resource as audience', async () => {
    const reg = await send(idp.url, '/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'], client_name: 'Test client' }) });
    assert.equal(reg.status, 201, reg.body);
    const client = JSON.parse(reg.body) as { client_id: string; token_endpoint_auth_method: string };
    assert.equal(client.token_endpoint_auth_method, 'none');

    const { verifier, challenge } = pkce();
    // RFC 8252: a loopback redirect URI may use another port than the registered one.
    const loc = await codeFor(client.client_id, 'http://127.0.0.1:4567/cb', challenge, { resource: MCP, scope: 'reviews:read reviews:write' });
    assert.equal(loc.searchParams.get('state'), 's1');
    assert.equal(loc.searchParams.get('iss'), idp.issuer);
    const code = loc.searchParams.get('code')!;

    const tokenParams = { grant_type: 'authorization_code', code, client_id: client.client_id, redirect_uri: 'http://127.0.0.1:4567/cb', code_verifier: verifier };
    const res = await send(idp.url, '/token', form(tokenParams));
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = JSON.parse(res.body) as { access_token: string; token_type: string; refresh_token: string; scope: string };
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'reviews:read reviews:write');

    const req = { headers: { authorization: `Bearer ${body.access_token}` }, rawHeaders: ['Authorization', `Bearer ${body.access_token}`], url: '/mcp' };
    assert.equal((await auth.authenticate(req)).ok, false, 'a token for the MCP resource was accepted by the API audience');
    const r = await auth.authenticate(req, { audience: [MCP] });
    assert.ok(r.ok);
    assert.equal(r.identity.client, client.client_id);

    const reuse = await send(idp.url, '/token', form(tokenParams));
    assert.equal(reuse.status, 400);
    assert.equal((JSON.parse(reuse.body) as { error: string }).error, 'invalid_grant');

    const refreshed = await send(idp.url, '/token', form({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: client.client_id }));
    assert.equal(refreshed.status, 200, refreshed.body);
    const again = await send(idp.url, '/token', form({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: client.client_id }));
    assert.equal(again.status, 400, 'a refresh token was usable twice');
  });

  it('rejects a wrong code_verifier, a wrong redirect_uri and an expired code', async () => {
    const { challenge } = pkce();
    const cb = 'http://localhost:7000/cb';
    const wrongVerifier = await send(idp.url, '/token', form({ grant_type: 'authorization_code', code: (await codeFor('cli', cb, challenge)).searchParams.get('code')!, client_id: 'cli', redirect_uri: cb, code_verifier: pkce().verifier }));
    assert.equal(wrongVerifier.status, 400);
    assert.match(wrongVerifier.body, /invalid_grant/);

    const { verifier, challenge: c2 } = pkce();
    const wrongRedirect = await send(idp.url, '/token', form({ grant_type: 'authorization_code', code: (await codeFor('cli', cb, c2)).searchParams.get('code')!, client_id: 'cli', redirect_uri: 'http://localhost:7000/other', code_verifier: verifier }));
    assert.match(wrongRedirect.body, /invalid_grant/);

    const { verifier: v3, challenge: c3 } = pkce();
    const code = (await codeFor('cli', cb, c3)).searchParams.get('code')!;
    now += 61_000;
    const expired = await send(idp.url, '/token', form({ grant_type: 'authorization_code', code, client_id: 'cli', redirect_uri: cb, code_verifier: v3 }));
    assert.match(expired.body, /invalid_grant/);
  });

  it('shows a page of demo users, escaped, when there is no login_hint', async () => {
    const { challenge } = pkce();
    const res = await authorize({ response_type: 'code', client_id: 'cli', redirect_uri: 'http://127.0.0.1:1/cb', code_challenge: challenge, code_challenge_method: 'S256' });
    assert.equal(res.status, 200);
    assert.match(res.body, /DEV ONLY/);
    assert.match(res.body, /login_hint=alice/);
    assert.ok(res.body.includes('Bob &#60;b&#62;') && !res.body.includes('Bob <b>'));
  });

  it('never redirects to an unregistered URI, and reports other errors to the client', async () => {
    const { challenge } = pkce();
    const evil = await authorize({ response_type: 'code', client_id: 'cli', redirect_uri: 'https://evil.example/cb', code_challenge: challenge, code_challenge_method: 'S256', login_hint: 'alice' });
    assert.equal(evil.status, 400);
    assert.equal(evil.headers.location, undefined);

    const target = await authorize({ response_type: 'code', client_id: 'cli', redirect_uri: 'http://127.0.0.1:1/cb', code_challenge: challenge, code_challenge_method: 'S256', login_hint: 'alice', resource: 'https://not-ours.example' });
    assert.equal(new URL(target.headers.location!).searchParams.get('error'), 'invalid_target');
    const plain = await authorize({ response_type: 'code', client_id: 'cli', redirect_uri: 'http://127.0.0.1:1/cb', code_challenge: challenge, code_challenge_method: 'plain', login_hint: 'alice' });
    assert.equal(new URL(plain.headers.location!).searchParams.get('error'), 'invalid_request');
  });

  it('issues script tokens with the dev user grant', async () => {
    const res = await send(idp.url, '/token', form({ grant_type: 'urn:behalf:dev:user', user: 'bob', scope: 'x y' }));
    assert.equal(res.status, 200, res.body);
    const { access_token: token } = JSON.parse(res.body) as { access_token: string };
    const r = await auth.authenticate({ headers: { authorization: `Bearer ${token}` }, rawHeaders: ['Authorization', `Bearer ${token}`], url: '/' });
    assert.ok(r.ok);
    assert.equal(r.identity.id, 'bob');
    assert.deepEqual(r.identity.scopes, ['x', 'y']);
    const unknown = await send(idp.url, '/token', form({ grant_type: 'urn:behalf:dev:user', user: 'mallory' }));
    assert.match(unknown.body, /invalid_grant/);
  });

  it('answers bad input with a 400 OAuth error and keeps running', async () => {
    const cases: [string, Parameters<typeof send>[2], string][] = [
      ['/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, 'invalid_request'],
      ['/token', form({ grant_type: 'password', username: 'a', password: 'b' }), 'unsupported_grant_type'],
      ['/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=a&grant_type=b' }, 'invalid_request'],
      ['/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x='.padEnd(70_000, 'a') }, 'invalid_request'],
      ['/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' }, 'invalid_client_metadata'],
      ['/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['javascript:alert(1)'] }) }, 'invalid_redirect_uri'],
      ['/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['https://a.test/cb'], token_endpoint_auth_method: 'client_secret_basic' }) }, 'invalid_client_metadata'],
    ];
    for (const [path, opts, error] of cases) {
      const res = await send(idp.url, path, opts);
      assert.equal(res.status, 400, `${path} ${String(opts?.body).slice(0, 40)}`);
      assert.equal((JSON.parse(res.body) as { error: string }).error, error);
    }
    assert.equal((await send(idp.url, '/jwks')).status, 200);
  });
});

describe('dev IdP key file', () => {
  it('keeps the same key across restarts, in a file only the owner can read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'behalf-dev-idp-'));
    try {
      const keyFile = join(dir, 'nested', 'dev-key.json');
      const kidOf = async (i: DevIdp) => ((JSON.parse((await send(i.url, '/jwks')).body) as { keys: { kid: string }[] }).keys[0]!.kid);
      const first = await startDevIdp({ users: USERS, audience: API, keyFile, log: () => undefined });
      const kid1 = await kidOf(first);
      await first.close();
      const second = await startDevIdp({ users: USERS, audience: API, keyFile, log: () => undefined });
      assert.equal(await kidOf(second), kid1);
      await second.close();
      assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('dev IdP key rotation', () => {
  it('publishes the new key before signing with it, keeps the old one until retired, and saves the new one in the key file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'behalf-dev-idp-'));
    const keyFile = join(dir, 'dev-key.json');
    const kids = async (i: DevIdp) => (JSON.parse((await send(i.url, '/jwks')).body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const idp = await startDevIdp({ users: USERS, audience: API, keyFile, log: () => undefined });
    try {
      const auth = createAuthenticator({
        issuers: [issuerSchema.parse({ id: 'dev', issuer: idp.issuer, audience: API, jwksRefetch: { minIntervalMs: 0 } })],
        maxTokenBytes: 16_384,
        cacheEntries: 0,
      });
      const before = await idp.mint('alice');
      const [oldKid] = await kids(idp);
      assert.equal((await auth.authenticate({ headers: { authorization: `Bearer ${before}` }, rawHeaders: ['Authorization', `Bearer ${before}`], url: '/x' })).ok, true);

      const newKid = await idp.rotateKeys();
      assert.notEqual(newKid, oldKid);
      assert.deepEqual(await kids(idp), [newKid, oldKid], 'the new key is published, the old one kept');
      const after = await idp.mint('alice');
      assert.equal(decodeProtectedHeader(after).kid, newKid, 'tokens are signed with the new key at once');
      for (const token of [after, before]) {
        const r = await auth.authenticate({ headers: { authorization: `Bearer ${token}` }, rawHeaders: ['Authorization', `Bearer ${token}`], url: '/x' });
        assert.equal(r.ok, true, r.ok ? '' : r.decision.detail);
      }

      idp.retireOldKeys();
      assert.deepEqual(await kids(idp), [newKid]);
      const restarted = await startDevIdp({ users: USERS, audience: API, keyFile, log: () => undefined });
      assert.deepEqual(await kids(restarted), [newKid], 'the key file holds the new key');
      await restarted.close();
    } finally {
      await idp.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
