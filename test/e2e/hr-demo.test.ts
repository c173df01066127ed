import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { launchDemo, SHARED_API_KEY, type Demo } from '../../examples/hr-demo/launch.js';
import { openAuditStore } from '../../src/audit/auditor.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';

let demo: Demo;
let stateDir: string;

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'behalf-demo-'));
  demo = await launchDemo({ stateDir, logger: pino({ level: 'silent' }) });
});
after(async () => {
  await demo.close();
  await rm(stateDir, { recursive: true, force: true });
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${demo.gatewayUrl}${path}`, { headers });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}
const bearer = async (user: string, opts?: Parameters<Demo['idp']['mint']>[1]) => ({ authorization: `Bearer ${await demo.idp.mint(user, opts)}` });
const employees = (json: Record<string, unknown>) => ((json['reviews'] as { employee: string }[]) ?? []).map((r) => r.employee).sort();

async function auditRecords(): Promise<StoredAuditRecord[]> {
  const store = await openAuditStore({ store: join(stateDir, 'audit') }, { baseDir: stateDir, readOnly: true });
  const out: StoredAuditRecord[] = [];
  for await (const r of store.query({})) out.push(r);
  await store.close();
  return out;
}

test('the shared API key, straight to the backend, returns everyone\'s reviews', async () => {
  const res = await fetch(`${demo.hr.url}/v1/reviews`, { headers: { authorization: `Bearer ${SHARED_API_KEY}` } });
  const json = (await res.json()) as Record<string, unknown>;
  assert.deepEqual(employees(json), ['alice', 'bob', 'carol', 'mallory']);
});

test('a backend that believes X-User-Id gives whoever holds the shared key anyone\'s view', async () => {
  const res = await fetch(`${demo.hr.url}/v1/reviews`, { headers: { authorization: `Bearer ${SHARED_API_KEY}`, 'x-user-id': 'alice' } });
  const json = (await res.json()) as Record<string, unknown>;
  assert.equal(json['caller'], 'alice');
  assert.deepEqual(employees(json), ['alice', 'bob', 'carol']);
});

test('through behalf, Alice gets her team\'s reviews only', async () => {
  const r = await get('/api/hr/reviews', await bearer('alice'));
  assert.equal(r.status, 200);
  assert.deepEqual(employees(r.json), ['alice', 'bob', 'carol']);
  assert.equal(demo.hr.lastCaller()?.user, 'alice');
  assert.ok(r.headers.get('x-request-id'));
});

test('Alice may read a report\'s reviews; Bob may read his own but not Carol\'s', async () => {
  assert.equal((await get('/api/hr/reviews/bob', await bearer('alice'))).status, 200);
  assert.equal((await get('/api/hr/reviews/bob', await bearer('bob'))).status, 200);
  const denied = await get('/api/hr/reviews/carol', await bearer('bob'));
  assert.equal(denied.status, 403);
  assert.equal(denied.json['error'], 'no-matching-rule');
});

test('Mallory gets none of Platform\'s reviews', async () => {
  const list = await get('/api/hr/reviews', await bearer('mallory'));
  assert.deepEqual(employees(list.json), ['mallory']);
  for (const who of ['alice', 'bob', 'carol']) {
    const r = await get(`/api/hr/reviews/${who}`, await bearer('mallory'));
    assert.equal(r.status, 403, who);
    assert.equal(r.json['error'], 'denied-by-rule');
  }
});

test('Mallory sending X-User-Id: alice (and friends) is still Mallory', async () => {
  const r = await get('/api/hr/reviews', {
    ...(await bearer('mallory')),
    'x-user-id': 'alice',
    'x-forwarded-user': 'alice',
    'x-behalf-assertion': 'forged',
    'x-tenant-id': 'other',
  });
  assert.equal(r.status, 200);
  assert.deepEqual(employees(r.json), ['mallory']);
  assert.equal(demo.hr.lastCaller()?.user, 'mallory');
});

test('an expired token and a forged token get 401 with a challenge', async () => {
  const now = Math.floor(Date.now() / 1000);
  const expired = await get('/api/hr/reviews', await bearer('alice', { claims: { iat: now - 7200, nbf: now - 7200, exp: now - 3600 } }));
  assert.equal(expired.status, 401);
  assert.equal(expired.json['error'], 'token-expired');
  assert.match(expired.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
  assert.match(expired.headers.get('www-authenticate') ?? '', /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/api\/hr"/);

  const attacker = await generateKeyPair('RS256');
  const forged = await new SignJWT({ scope: 'reviews:read' })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' })
    .setIssuer(demo.idp.issuer)
    .setAudience(demo.gatewayUrl)
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(attacker.privateKey);
  const r = await get('/api/hr/reviews', { authorization: `Bearer ${forged}` });
  assert.equal(r.status, 401);
  assert.equal(r.json['error'], 'token-invalid');
});

test('no token: 401 without an error code, naming the resource metadata', async () => {
  const r = await get('/api/hr/reviews');
  assert.equal(r.status, 401);
  const challenge = r.headers.get('www-authenticate') ?? '';
  assert.match(challenge, /^Bearer resource_metadata="/);
  assert.doesNotMatch(challenge, /error=/);
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1] ?? '';
  const metadata = (await (await fetch(metadataUrl)).json()) as Record<string, unknown>;
  assert.equal(metadata['resource'], `${demo.gatewayUrl}/api/hr`);
  assert.deepEqual(metadata['authorization_servers'], [demo.idp.issuer]);
  assert.deepEqual((metadata['scopes_supported'] as string[]).sort(), ['reviews:read', 'reviews:write']);
});

test('a missing scope is a step-up challenge naming every scope the operation needs', async () => {
  const r = await fetch(`${demo.gatewayUrl}/api/hr/reviews/bob`, {
    method: 'POST',
    headers: { ...(await bearer('alice', { scopes: ['reviews:read'] })), 'content-type': 'application/json' },
    body: JSON.stringify({ rating: 'meets', summary: 'x' }),
  });
  assert.equal(r.status, 403);
  assert.match(r.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  assert.match(r.headers.get('www-authenticate') ?? '', /scope="reviews:write"/);
});

test('only an employee\'s manager may add a review, once the manager\'s manager approved it; the body reaches the backend intact', async () => {
  const review = { period: '2026-H2', rating: 'exceeds', summary: 'Led the incident review.' };
  const post = async (user: string, employee: string) =>
    fetch(`${demo.gatewayUrl}/api/hr/reviews/${employee}`, {
      method: 'POST',
      headers: { ...(await bearer(user)), 'content-type': 'application/json' },
      body: JSON.stringify(review),
    });
  const held = await post('alice', 'bob');
  assert.equal(held.status, 403);
  const asked = (await held.json()) as { error: string; approval: { id: string } };
  assert.equal(asked.error, 'approval-required');
  const approve = await fetch(`${demo.adminUrl}/admin/approvals/${asked.approval.id}/approve`, { method: 'POST', headers: await bearer('dana') });
  assert.equal(approve.status, 200, 'Dana, Alice\'s manager, approves');
  const ok = await post('alice', 'bob');
  assert.equal(ok.status, 201);
  const created = ((await ok.json()) as { review: { author: string; summary: string } }).review;
  assert.equal(created.author, 'alice');
  assert.equal(created.summary, review.summary);
  assert.equal((await post('bob', 'carol')).status, 403);
  assert.equal((await post('mallory', 'bob')).status, 403);
});

test('malformed JSON and oversized bodies are refused before the backend', async () => {
  const bad = await fetch(`${demo.gatewayUrl}/api/hr/reviews/bob`, { method: 'POST', headers: { ...(await bearer('alice')), 'content-type': 'application/json' }, body: '{"rating":' });
  assert.equal(bad.status, 400);
  const big = await fetch(`${demo.gatewayUrl}/api/hr/reviews/bob`, { method: 'POST', headers: { ...(await bearer('alice')), 'content-type': 'application/json' }, body: 'x'.repeat(2 * 1024 * 1024) });
  assert.equal(big.status, 413);
});

test('every request above is in the audit trail, which verifies; no token is in it', async () => {
  const records = await auditRecords();
  assert.ok(records.length >= 18, `only ${records.length} records`);
  const denied = records.filter((r) => r.decision === 'deny');
  assert.ok(denied.some((r) => r.reason === 'token-expired' && r.status === 401));
  assert.ok(denied.some((r) => r.reason === 'token-missing'));
  assert.ok(denied.some((r) => r.user === 'mallory' && r.ruleId === 'no-cross-department'));
  const allowed = records.find((r) => r.user === 'alice' && r.method === 'POST' && r.decision === 'allow' && r.phase === 'outcome');
  assert.equal(allowed?.ruleId, 'manager-adds-review');
  assert.equal(allowed?.upstreamStatus, 201);
  assert.match(allowed?.bodyDigest ?? '', /^sha256:/);
  const files = await readdir(join(stateDir, 'audit'));
  for (const f of files.filter((n) => n.endsWith('.jsonl'))) {
    const text = await readFile(join(stateDir, 'audit', f), 'utf8');
    assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\.eyJ/, 'a JWT leaked into the audit trail');
    assert.doesNotMatch(text, /Led the incident review/, 'a body leaked into the audit trail');
  }
  const store = await openAuditStore({ store: join(stateDir, 'audit') }, { baseDir: stateDir, readOnly: true });
  const verdict = await store.verify();
  await store.close();
  assert.equal(verdict.ok, true);
  assert.equal(verdict.records, records.length);
});
