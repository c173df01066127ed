import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { freePort } from '../../examples/hr-demo/launch.js';
import { validateConfig } from '../../src/config/load.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from '../e2e/harness.js';

/**
 * Class 6 of "Request integrity": the same subject from two issuers. With two trusted IdPs, a
 * token from the second with `sub=alice` must not get the directory's alice (her reports, her
 * powers, a rule naming her, her rate-limit bucket): the home issuer's users keep plain ids
 * (`directory.issuer`), the other's are named `partner:alice` everywhere, the backend included.
 */

let home: DevIdp;
let partner: DevIdp;
let backend: RecordingBackend;
let gw: TestGateway;
let dir: string;

const USERS = [
  { id: 'alice', name: 'Alice', email: 'alice@example.test' },
  { id: 'bob', name: 'Bob', email: 'bob@example.test' },
  // A home user whose own id reads as the partner's alice.
  { id: 'partner:alice', name: 'Impostor', email: 'impostor@example.test' },
];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'behalf-two-issuers-'));
  await writeFile(join(dir, 'directory.yaml'), 'users:\n  - { id: alice, department: Platform }\n  - { id: bob, manager: alice, department: Platform }\n');
  backend = await startRecordingBackend();
  home = await startDevIdp({ users: USERS, audience: 'http://gateway.test', log: () => {} });
  partner = await startDevIdp({ users: USERS, audience: 'http://gateway.test', log: () => {} });
  const port = await freePort();
  gw = await startTestGateway({
    server: { port, publicUrl: `http://127.0.0.1:${port}` },
    issuers: [
      { id: 'home', issuer: home.issuer, audience: 'http://gateway.test' },
      { id: 'partner', issuer: partner.issuer, audience: 'http://gateway.test' },
    ],
    directory: { file: join(dir, 'directory.yaml'), issuer: 'home' },
    routes: [{ id: 'hr', path: '/api/hr', upstream: backend.url }],
    policies: [
      { id: 'managers-read-reports', effect: 'allow', match: { routes: ['hr'], paths: ['/api/hr/reviews/:employee'] }, when: 'request.params.employee in user.reports' },
      { id: 'alice-reads-payroll', effect: 'allow', match: { routes: ['hr'], paths: ['/api/hr/payroll'] }, when: 'user.id == "alice"' },
      { id: 'partner-alice-reads-partners', effect: 'allow', match: { routes: ['hr'], paths: ['/api/hr/partners'] }, when: 'user.id == "partner:alice"' },
    ],
  });
});

after(async () => {
  await gw?.close();
  await home?.close();
  await partner?.close();
  await backend?.close();
  await rm(dir, { recursive: true, force: true });
});

async function get(idp: DevIdp, path: string, user = 'alice') {
  const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${await idp.mint(user)}` } });
  await res.arrayBuffer();
  return { status: res.status, requestId: res.headers.get('x-request-id'), challenge: res.headers.get('www-authenticate') };
}

const reviewsOfBob = (idp: DevIdp) => get(idp, '/api/hr/reviews/bob');

function lastAssertion(): Record<string, unknown> {
  const seen = backend.seen.at(-1)!;
  const token = String(seen.headers['x-behalf-assertion'] ?? seen.headers.authorization ?? '').replace(/^Bearer /, '');
  return decodeJwt(token) as Record<string, unknown>;
}

describe('the same subject from two issuers', () => {
  it("alice from the directory's issuer reads her report's reviews", async () => {
    assert.equal((await reviewsOfBob(home)).status, 200);
  });

  it('"alice" from the other issuer gets no directory entry, hence no reports: denied, nothing forwarded, audited with her issuer', async () => {
    const seen = backend.seen.length;
    const reply = await reviewsOfBob(partner);
    assert.equal(reply.status, 403);
    assert.equal(backend.seen.length, seen);
    const record = (await gw.auditRecords()).findLast((r) => r.requestId === reply.requestId);
    assert.equal(record?.reason, 'no-matching-rule');
    assert.equal(record?.user, 'partner:alice');
    assert.equal(record?.issuer, partner.issuer);
  });

  it('a rule naming "alice" applies to the home issuer\'s alice only; the other is "partner:alice" in policy and at the backend', async () => {
    assert.equal((await get(home, '/api/hr/payroll')).status, 200);
    assert.equal(lastAssertion().sub, 'alice');
    const seen = backend.seen.length;
    assert.equal((await get(partner, '/api/hr/payroll')).status, 403);
    assert.equal(backend.seen.length, seen);
    assert.equal((await get(partner, '/api/hr/partners')).status, 200);
    const claims = lastAssertion();
    assert.equal(claims.sub, 'partner:alice', 'the backend gets the name the policy decided on');
    assert.equal(claims.idp_iss, partner.issuer);
    assert.equal((await get(home, '/api/hr/partners')).status, 403);
  });

  it("a home token whose own id is the partner's qualified name is refused, not taken for her", async () => {
    const seen = backend.seen.length;
    const reply = await get(home, '/api/hr/partners', 'partner:alice');
    assert.equal(reply.status, 401);
    assert.match(reply.challenge ?? '', /invalid_token/);
    assert.equal(backend.seen.length, seen);
  });

  it('a directory with several issuers must say whose users it describes', () => {
    const base = {
      server: { port: 1, publicUrl: 'http://127.0.0.1:1' },
      issuers: [
        { id: 'home', issuer: 'https://home.example', audience: 'x' },
        { id: 'partner', issuer: 'https://partner.example', audience: 'x' },
      ],
    };
    const missing = validateConfig({ ...base, directory: { file: 'd.yaml' } });
    assert.equal(missing.ok, false);
    assert.ok(!missing.ok && missing.problems.some((p) => p.path === 'directory.issuer'), JSON.stringify(missing));
    const unknown = validateConfig({ ...base, directory: { file: 'd.yaml', issuer: 'nobody' } });
    assert.ok(!unknown.ok && unknown.problems.some((p) => p.path === 'directory.issuer' && /unknown issuer/.test(p.message)));
    assert.equal(validateConfig({ ...base, directory: { file: 'd.yaml', issuer: 'partner' } }).ok, true);
  });
});
