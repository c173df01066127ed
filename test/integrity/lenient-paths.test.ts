import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawExchange } from '../e2e/bounded-client.js';
import { useIntegrityEnv } from './integrity-env.js';

/**
 * Class 4 of "Request integrity": paths a lenient backend reads differently from the gateway.
 * Under an open rule `/api/hr/public/*` and a deny rule `/api/hr/public/secret/*`, each request
 * below would reach (or pass the deny rule for) something the policy did not decide on if the
 * backend decoded twice, stripped `;params`, applied NFKC or folded case. Each is refused with 400
 * before the policy sees it (or, on a route declared case-insensitive, decided on the folded
 * path), never reaches the backend, and is audited with its reason.
 */

const publicRules = (route: string, prefix: string) => [
  { id: `${route}-secret`, effect: 'deny' as const, match: { routes: [route], paths: [`${prefix}/public/secret/*`] } },
  { id: `${route}-public`, effect: 'allow' as const, match: { routes: [route], paths: [`${prefix}/public/*`] } },
];

const env = useIntegrityEnv('mallory', (upstream) => ({
  routes: [
    { id: 'hr', path: '/api/hr', upstream },
    { id: 'folding', path: '/api/folding', upstream, pathRules: { caseInsensitive: true } },
    { id: 'lenient', path: '/api/lenient', upstream, pathRules: { allowSemicolons: true, allowEncodedPercent: true, allowNonAscii: true } },
  ],
  policies: [...publicRules('hr', '/api/hr'), ...publicRules('folding', '/api/folding'), ...publicRules('lenient', '/api/lenient')],
}));

/** Sends the request line exactly as written (no client-side normalisation), with Mallory's token. */
async function get(path: string): Promise<{ status: number; text: string; requestId: string | undefined }> {
  const raw = await rawExchange(env.gw.url, Buffer.concat([Buffer.from(`GET `), Buffer.from(path, 'utf8'), Buffer.from(` HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${env.token}\r\n\r\n`)]));
  const requestId = /x-request-id: ([\w-]+)/i.exec(raw.text)?.[1];
  return { status: raw.status, text: raw.text, requestId };
}

async function recordOf(requestId: string | undefined) {
  assert.ok(requestId !== undefined, 'the answer names its request id');
  const records = (await env.gw.auditRecords()).filter((r) => r.requestId === requestId);
  assert.equal(records.length, 1, 'exactly one audit record');
  return records[0]!;
}

const REFUSED: readonly (readonly [request: string, why: string])[] = [
  ['/api/hr/public/%252e%252e/salaries', 'encoded-percent'],
  ['/api/hr/public/x%252fsalaries', 'encoded-percent'],
  ['/api/hr/public/%EF%BC%8E%EF%BC%8E/salaries', 'non-ascii'],
  ['/api/hr/public/secret;x/x', 'semicolon'],
  ['/api/hr/public/%2573ecret/x', 'encoded-percent'],
  ['/api/hr/public/%EF%BD%93ecret/x', 'non-ascii'],
];

describe('paths a lenient backend reads differently', () => {
  for (const [request, why] of REFUSED) {
    it(`${request} is refused (${why}), audited, and never reaches the backend`, async () => {
      const before = env.backend.seen.length;
      const reply = await get(request);
      assert.equal(reply.status, 400, reply.text);
      assert.match(reply.text, /"error":"bad-request"/);
      const record = await recordOf(reply.requestId);
      assert.equal(record.decision, 'deny');
      assert.equal(record.reason, 'bad-request');
      assert.equal(record.detail, `unsafe path: ${why}`);
      assert.equal(env.backend.seen.length, before, 'nothing reached the backend');
    });
  }

  it('raw (unencoded) full-width characters in the request line are refused by the HTTP parser before any stage, and never reach the backend', async () => {
    const before = env.backend.seen.length;
    for (const path of ['/api/hr/public/．．/salaries', '/api/hr/public/ｓｅｃｒｅｔ/x']) {
      assert.equal((await get(path)).status, 400, path);
    }
    assert.equal(env.backend.seen.length, before);
  });

  it('the same paths in plain ASCII are decided by the policy as usual', async () => {
    assert.equal((await get('/api/hr/public/handbook')).status, 200);
    const secret = await get('/api/hr/public/secret/x');
    assert.equal(secret.status, 403);
    assert.equal((await recordOf(secret.requestId)).ruleId, 'hr-secret');
  });

  it('a case-sensitive route does not fold case: /public/SECRET is another path (the backend is told so in docs/security.md)', async () => {
    const reply = await get('/api/hr/public/SECRET/x');
    assert.equal(reply.status, 200, 'the default: policy and backend see a case-sensitive path');
  });

  it('on a route declared caseInsensitive, policy decides on the folded path: /public/SECRET hits the deny rule', async () => {
    const before = env.backend.seen.length;
    const reply = await get('/api/folding/public/SECRET/x');
    assert.equal(reply.status, 403, reply.text);
    const record = await recordOf(reply.requestId);
    assert.equal(record.reason, 'denied-by-rule');
    assert.equal(record.ruleId, 'folding-secret');
    assert.equal(env.backend.seen.length, before);
    assert.equal((await get('/api/folding/public/Handbook')).status, 200);
  });

  it('a route can let ; parameters, an encoded % and non-ASCII through, for a backend known to read them as the gateway does', async () => {
    const before = env.backend.seen.length;
    for (const path of ['/api/lenient/public/a;v=1', '/api/lenient/public/100%25', '/api/lenient/public/%C3%A9t%C3%A9']) {
      assert.equal((await get(path)).status, 200, path);
    }
    assert.deepEqual(env.backend.seen.slice(before).map((r) => r.url), ['/public/a;v=1', '/public/100%25', '/public/%C3%A9t%C3%A9']);
    // Dot segments and encoded separators stay refused whatever the route allows.
    assert.equal((await get('/api/lenient/public/..;/secret/x')).status, 400);
    assert.equal((await get('/api/lenient/public/a%2fb')).status, 400);
  });
});
