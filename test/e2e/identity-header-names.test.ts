import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { normalizeHeaderName } from '../../src/forward/identity/stripped-headers.js';
import { send } from './bounded-client.js';
import { auditRecordOf, bearer, startQuietIdp } from './e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from './harness.js';

// Identity header names spelled so that a strip list comparing exact names misses them
// (`X_User_Id`, which WSGI joins with behalf's own `X-User-Id` as "mallory,bob"), and the
// headers of authenticating proxies, sent over real HTTP through the whole gateway: none reaches
// the backend, behalf's own X-User-Id arrives once, and a route with `forwardHeaders` passes
// nothing else the client sent.

/** The names of the issue, exactly as written there. */
const ISSUE_NAMES = [
  'X_User_Id', 'X_Forwarded_User', 'Remote_User', 'X-Remote_User',
  'X-WEBAUTH-USER', 'Cf-Access-Authenticated-User-Email', 'Cf-Access-Jwt-Assertion',
  'X-Pomerium-Jwt-Assertion', 'X-Pomerium-Claim-Email', 'OIDC_CLAIM_email', 'OIDC_CLAIM_sub', 'X-Vouch-User',
  'X-Proxy-User', 'X-Impersonate-User', 'X-On-Behalf-Of', 'X-Act-As', 'X-Employee-Id', 'User-Id',
];
const vectorNames = async (file: string): Promise<string[]> =>
  (JSON.parse(await readFile(new URL(`../vectors/headers/${file}`, import.meta.url), 'utf8')) as { stripped: { name: string }[] }).stripped.map((v) => v.name);
/** Every spoofed name, once per lower-case spelling; each is sent with the value `mallory`. */
const SPOOFED = [...new Map([...ISSUE_NAMES, ...(await vectorNames('underscore-aliases.json')), ...(await vectorNames('proxy-identity-families.json'))].map((n) => [n.toLowerCase(), n])).values()];
const spoofedHeaders = (): Record<string, string> => Object.fromEntries(SPOOFED.map((n) => [n, 'mallory']));
/** What the gateway sets itself (with a value of its own) and the client may also have sent. */
const GATEWAY_SETS = new Set(['x-user-id', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-request-id', 'content-length', 'x-behalf-assertion', 'traceparent']);

let idp: DevIdp;
let backend: RecordingBackend;
let gw: TestGateway;
/** The raw header lines of each request the backend got (name, value, name, value, ...). */
const rawSeen: string[][] = [];

before(async () => {
  backend = await startRecordingBackend((req, res) => {
    rawSeen.push(req.rawHeaders);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  idp = await startQuietIdp(publicUrl);
  gw = await startTestGateway({
    server: { port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl, jwksUri: idp.jwksUri }],
    routes: [
      { id: 'hr', path: '/api/hr', upstream: `${backend.url}/v1`, identityHeaders: { 'X-User-Id': '{user.id}' } },
      { id: 'legacy', path: '/api/legacy', upstream: `${backend.url}/legacy`, identityHeaders: { 'X-User-Id': '{user.id}' }, forwardHeaders: ['Content-Type', 'Accept'] },
    ],
    policies: [{ id: 'anyone-authenticated', effect: 'allow', match: { routes: ['hr', 'legacy'] } }],
  });
});
after(async () => {
  await gw.close();
  await backend.close();
  await idp.close();
});

/** Sends `headers` with Bob's token to `path`; returns the backend's raw header pairs and the request id. */
async function through(path: string, headers: Record<string, string>): Promise<{ pairs: [string, string][]; requestId: string }> {
  const before = rawSeen.length;
  const body = '{"rating":4}';
  const reply = await send(gw.url, { method: 'POST', path, headers: { ...headers, ...(await bearer(idp, 'bob')) }, body });
  assert.equal(reply.status, 200, reply.body);
  assert.equal(rawSeen.length, before + 1, 'the backend did not get exactly one request');
  const raw = rawSeen.at(-1)!;
  const pairs: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
  return { pairs, requestId: String(reply.headers['x-request-id']) };
}

/** The backend got X-User-Id exactly once, under any spelling, and it is the verified user. */
function assertOneVerifiedUser(pairs: [string, string][]): void {
  const userIds = pairs.filter(([n]) => normalizeHeaderName(n) === 'x-user-id');
  assert.deepEqual(userIds.map(([, v]) => v), ['bob'], `X-User-Id lines at the backend: ${JSON.stringify(userIds)}`);
}

test('no spelling of an identity header the client sent reaches the backend; behalf\'s X-User-Id arrives once; the audit record names them', async () => {
  const { pairs, requestId } = await through('/api/hr/reviews', { ...spoofedHeaders(), 'content-type': 'application/json', 'x-trace-id': 'trace-1', x_client_version: '1.2.3' });
  const spoofed = new Set(SPOOFED.map(normalizeHeaderName));
  for (const [name, value] of pairs) {
    if (!spoofed.has(normalizeHeaderName(name))) continue;
    assert.ok(GATEWAY_SETS.has(name.toLowerCase()), `${name} reached the backend`);
    assert.notEqual(value, 'mallory', `${name} reached the backend with the client's value`);
  }
  assertOneVerifiedUser(pairs);
  const got = new Map(pairs.map(([n, v]) => [n.toLowerCase(), v]));
  assert.equal(got.get('x-trace-id'), 'trace-1', 'an ordinary header was dropped');
  assert.equal(got.get('x_client_version'), '1.2.3', 'an ordinary header spelled with "_" was dropped');
  assert.equal(got.get('content-type'), 'application/json');

  const record = await auditRecordOf(gw, requestId);
  assert.equal(record.decision, 'allow');
  const detail = record.detail ?? '';
  for (const name of SPOOFED) assert.ok(detail.includes(name.toLowerCase()), `the audit record does not name ${name}: ${detail}`);
  assert.doesNotMatch(JSON.stringify(record), /mallory/, 'a spoofed value reached the audit record');
});

test('a route with forwardHeaders passes the listed headers and nothing else the client sent', async () => {
  const ordinary = { 'content-type': 'application/json', accept: 'application/json', 'x-trace-id': 'trace-2', 'x-acme-login': 'mallory', 'user-agent': 'agent/1', accept_: 'x', Accept_Language: 'en' };
  const { pairs, requestId } = await through('/api/legacy/items', { ...spoofedHeaders(), ...ordinary });
  const names = pairs.map(([n]) => n.toLowerCase());
  const allowed = new Set(['content-type', 'accept', 'host', 'connection', ...GATEWAY_SETS]);
  for (const name of names) assert.ok(allowed.has(name), `${name} reached a forwardHeaders route without being listed`);
  const got = new Map(pairs.map(([n, v]) => [n.toLowerCase(), v]));
  assert.equal(got.get('content-type'), 'application/json');
  assert.equal(got.get('accept'), 'application/json');
  assert.equal(got.get('content-length'), '12', 'the gateway sets Content-Length from the body');
  assert.equal(got.get('x-request-id'), requestId);
  assert.ok(got.has('x-behalf-assertion'), 'the assertion is still sent');
  assert.ok(!pairs.some(([, v]) => v === 'mallory'), 'a value the client made up reached the backend');
  assertOneVerifiedUser(pairs);

  const detail = (await auditRecordOf(gw, requestId)).detail ?? '';
  for (const name of ['x_user_id', 'x-webauth-user', 'cf-access-jwt-assertion', 'user-id']) assert.ok(detail.includes(name), `the audit record does not name ${name}`);
  assert.ok(!detail.includes('x-trace-id') && !detail.includes('x-acme-login'), 'ordinary headers left out of the list are dropped, not reported as spoofs');
});
