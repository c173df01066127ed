/**
 * Revocation end to end: the admin API and `behalf revoke` against a running gateway, what a
 * revoked user, token or client sees on both doors, the audit trail of each change, and a
 * gateway whose shared revocation store goes away (503, /readyz, recovery).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { runCli } from '../cli/helpers.js';
import { adminClient, keysUnder, REDIS_URL, testPrefix } from '../limit/redis-env.js';
import { startTcpProxy, type TcpProxy } from '../limit/tcp-proxy.js';
import { bearer, startQuietIdp } from './e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from './harness.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijklmnop';

interface Env {
  gw: TestGateway;
  idp: DevIdp;
  backend: RecordingBackend;
  admin: string;
  close(): Promise<void>;
}

async function startEnv(revocation: Record<string, unknown> = {}): Promise<Env> {
  const backend = await startRecordingBackend();
  const port = await freePort();
  const adminPort = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = await startQuietIdp(publicUrl);
  const gw = await startTestGateway({
    server: { port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: [publicUrl, `${publicUrl}/mcp`], jwksUri: idp.jwksUri }],
    routes: [{ id: 'reviews', path: '/api/reviews', upstream: `${backend.url}/reviews` }],
    mcp: {},
    policies: [{ id: 'anyone', effect: 'allow', match: { routes: ['reviews'] } }],
    revocation,
    admin: { port: adminPort, token: ADMIN_TOKEN },
  });
  return {
    gw,
    idp,
    backend,
    admin: `http://127.0.0.1:${adminPort}`,
    async close() {
      await gw.close();
      await idp.close();
      await backend.close();
    },
  };
}

const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

describe('revocation through the admin API and behalf revoke (the default file store)', () => {
  let env: Env;
  let cli: (args: string[], env?: Record<string, string>) => ReturnType<typeof runCli>;
  before(async () => {
    env = await startEnv();
    cli = (args, extra = {}) => runCli(['revoke', ...args], { BEHALF_ADMIN_TOKEN: ADMIN_TOKEN, BEHALF_ADMIN_URL: env.admin, ...extra });
  });
  after(() => env.close());

  const get = (headers: Record<string, string>) => fetch(`${env.gw.url}/api/reviews`, { headers });

  test('behalf revoke user: her current tokens get 401 invalid_token and never reach the backend; a token issued later works; lift restores', async () => {
    const bob = await bearer(env.idp, 'bob');
    const alice = await bearer(env.idp, 'alice');
    assert.equal((await get(bob)).status, 200);
    const revoked = await cli(['user', 'bob', '--reason', 'laptop stolen', '--by', 'ops@test']);
    assert.equal(revoked.code, 0, revoked.err);
    assert.match(revoked.out, /^revoked user bob until \S+ \(tokens issued before now\)$/);

    const seen = env.backend.seen.length;
    const res = await get(bob);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal(((await res.json()) as { error: string }).error, 'token-revoked');
    assert.equal(env.backend.seen.length, seen, 'a revoked token never reaches the backend');
    assert.equal((await get(alice)).status, 200, 'others are not affected');
    const fresh = await bearer(env.idp, 'bob', { claims: { iat: inSeconds(2) } });
    assert.equal((await get(fresh)).status, 200, 'signing in again after the revocation works');

    const listed = await cli(['list']);
    assert.match(listed.out, /user\s+bob\s+issuer any\s+until \S+\s+reason: laptop stolen/);
    const lifted = await cli(['lift', 'user', 'bob']);
    assert.equal(lifted.code, 0, lifted.err);
    assert.equal((await get(bob)).status, 200);

    const records = await env.gw.auditRecords();
    const change = records.find((r) => r.reason === 'revocation-added');
    assert.ok(change, 'the revocation is audited');
    assert.equal(change.door, 'admin');
    assert.equal(change.decision, 'allow');
    assert.match(change.detail ?? '', /user "bob" \(issuer any\); until .*; tokens issued before it; by "ops@test"; reason "laptop stolen"/);
    assert.ok(records.some((r) => r.reason === 'revocation-removed' && /user "bob"/.test(r.detail ?? '')), 'lifting is audited');
    const refused = records.find((r) => r.reason === 'token-revoked');
    assert.equal(refused?.user, 'bob');
    assert.equal(refused?.status, 401);
  });

  test('--all-tokens also refuses tokens issued after the revocation', async () => {
    assert.equal((await cli(['user', 'carol', '--all-tokens', '--ttl', '10m'])).code, 0);
    const later = await bearer(env.idp, 'carol', { claims: { iat: inSeconds(2) } });
    assert.equal((await get(later)).status, 401);
    assert.equal((await cli(['lift', 'user', 'carol'])).code, 0);
  });

  test('behalf revoke token refuses that one token (its jti) and no other token of the user', async () => {
    const stolen = await env.idp.mint('alice');
    const other = await bearer(env.idp, 'alice');
    const jti = String(decodeJwt(stolen).jti);
    assert.equal((await cli(['token', jti])).code, 0);
    assert.equal((await get({ authorization: `Bearer ${stolen}` })).status, 401);
    assert.equal((await get(other)).status, 200);
    await cli(['lift', 'token', jti]);
  });

  test('behalf revoke client refuses every user acting through that client', async (t) => {
    // Minted before the revocation: a token minted after it may carry the next second's iat, and
    // tokens issued after a revocation are accepted unless --all-tokens.
    const alice = await bearer(env.idp, 'alice', { client: 'rogue-agent' });
    const bob = await bearer(env.idp, 'bob', { client: 'rogue-agent' });
    const viaClaude = await bearer(env.idp, 'bob', { client: 'claude' });
    assert.equal((await cli(['client', 'rogue-agent'])).code, 0);
    t.after(() => cli(['lift', 'client', 'rogue-agent']));
    assert.equal((await get(alice)).status, 401);
    assert.equal((await get(bob)).status, 401);
    assert.equal((await get(viaClaude)).status, 200);
  });

  test('the MCP door refuses a revoked user with the same 401', async () => {
    const token = await env.idp.mint('mallory', { audience: `${env.gw.url}/mcp` });
    const init = () =>
      fetch(`${env.gw.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
      });
    assert.equal((await init()).status, 200);
    await cli(['user', 'mallory']);
    const res = await init();
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    await cli(['lift', 'user', 'mallory']);
  });

  test('the admin API refuses callers without the admin token, and each refusal is audited', async () => {
    const none = await fetch(`${env.admin}/admin/revocations`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="behalf-admin"/);
    const wrong = await fetch(`${env.admin}/admin/revocations`, { headers: { authorization: 'Bearer not-the-admin-token' } });
    assert.equal(wrong.status, 401);
    const userToken = await env.idp.mint('alice');
    assert.equal((await fetch(`${env.admin}/admin/revocations`, { headers: { authorization: `Bearer ${userToken}` } })).status, 401, 'a user token is no admin token');
    const viaCli = await cli(['list'], { BEHALF_ADMIN_TOKEN: 'wrong' });
    assert.equal(viaCli.code, 1);
    assert.match(viaCli.err, /^token-invalid: admin token required$/);
    const denied = (await env.gw.auditRecords()).filter((r) => r.door === 'admin' && r.reason === 'token-invalid');
    assert.ok(denied.length >= 4);
    const publicDoor = await fetch(`${env.gw.url}/admin/revocations`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.notEqual(publicDoor.status, 200, 'the admin API is not on the public listener');
  });

  test('bad admin requests get a clear 4xx and change nothing', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const post = (body: string) => fetch(`${env.admin}/admin/revocations`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
    const notJson = await post('{"kind":');
    assert.equal(notJson.status, 400);
    assert.match(((await notJson.json()) as { message: string }).message, /JSON/);
    const badKind = await post(JSON.stringify({ kind: 'group', value: 'x' }));
    assert.equal(badKind.status, 400);
    assert.match(((await badKind.json()) as { message: string }).message, /^kind: /);
    const extra = await post(JSON.stringify({ kind: 'user', value: 'x', admin: true }));
    assert.equal(extra.status, 400);
    const control = await post(JSON.stringify({ kind: 'user', value: 'x\ny' }));
    assert.equal(control.status, 400);
    assert.equal((await post('x'.repeat(20_000))).status, 413);
    assert.equal((await fetch(`${env.admin}/admin/revocations/user/nobody`, { method: 'DELETE', headers: auth })).status, 404);
    assert.equal((await fetch(`${env.admin}/admin/revocations/group/x`, { method: 'DELETE', headers: auth })).status, 400);
    const put = await fetch(`${env.admin}/admin/revocations`, { method: 'PUT', headers: auth });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, POST');
    assert.equal((await fetch(`${env.admin}/admin/other`, { headers: auth })).status, 404);
    const list = (await (await fetch(`${env.admin}/admin/revocations`, { headers: auth })).json()) as { revocations: unknown[] };
    assert.deepEqual(list.revocations, []);
    assert.equal((await cli(['user', 'x', '--ttl', 'soon'])).code, 2);
    assert.equal((await runCli(['revoke', 'list'], { BEHALF_ADMIN_URL: env.admin })).code, 2, 'no BEHALF_ADMIN_TOKEN');
  });
});

describe('a gateway whose shared revocation store goes away', () => {
  const prefix = testPrefix();
  let proxy: TcpProxy;
  let env: Env;
  before(async () => {
    proxy = await startTcpProxy(REDIS_URL);
    env = await startEnv({ store: proxy.url, keyPrefix: prefix, syncMs: 50, maxStalenessMs: 300 });
  });
  after(async () => {
    await env.close();
    await proxy.close();
    const redis = await adminClient();
    const keys = await keysUnder(redis, prefix);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const waitStatus = async (headers: Record<string, string>, status: number) => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const res = await fetch(`${env.gw.url}/api/reviews`, { headers });
      if (res.status === status) return res;
      if (Date.now() > deadline) assert.fail(`expected ${status}, still ${res.status}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  test('requests get 503 revocation-unavailable with Retry-After, /readyz says why, revoking answers 503; all recovers by itself', async () => {
    const alice = await bearer(env.idp, 'alice');
    await waitStatus(alice, 200);
    proxy.cut();
    const res = await waitStatus(alice, 503);
    assert.equal(((await res.json()) as { error: string }).error, 'revocation-unavailable');
    assert.equal(res.headers.get('retry-after'), '1');
    const ready = await fetch(`${env.gw.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(JSON.stringify(await ready.json()), /"revocations":\{"ok":false,"detail":"revocation store unreachable"\}/);
    const metrics = await (await fetch(`${env.gw.url}/metrics`)).text();
    assert.match(metrics, /^behalf_revocation_stale 1$/m);
    const revoke = await runCli(['revoke', 'user', 'bob'], { BEHALF_ADMIN_TOKEN: ADMIN_TOKEN, BEHALF_ADMIN_URL: env.admin });
    assert.equal(revoke.code, 1);
    assert.match(revoke.err, /^revocation-unavailable: /);

    proxy.restore();
    await waitStatus(alice, 200);
    assert.equal((await fetch(`${env.gw.url}/readyz`)).status, 200);
    const records = await env.gw.auditRecords();
    assert.ok(records.some((r) => r.reason === 'revocation-unavailable' && r.status === 503 && r.user === 'alice'));
  });
});
