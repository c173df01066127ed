import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import { buildVectorRequest, loadJwtVectors, startJwtVectorEnv, type JwtVectorEnv } from '../vectors/jwt/build.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from './harness.js';

// Every JWT vector, sent as a real HTTP request through the whole gateway: each attack is
// refused with its status and challenge, none reaches the backend, and each is audited.

let env: JwtVectorEnv;
let backend: RecordingBackend;
let gw: TestGateway;

before(async () => {
  env = await startJwtVectorEnv();
  backend = await startRecordingBackend();
  const port = await freePort();
  gw = await startTestGateway({
    server: { port, publicUrl: `http://127.0.0.1:${port}`, maxTokenBytes: env.maxTokenBytes },
    issuers: env.issuerConfigs.map((i) => ({ ...i })),
    routes: [{ id: 'vectors', path: env.path, upstream: backend.url, issuers: [...env.allowedIssuers] }],
    policies: [{ id: 'anyone-authenticated', effect: 'allow', match: { routes: ['vectors'] } }],
  });
});
after(async () => {
  await gw.close();
  await backend.close();
  await env.close();
});

function send(req: Awaited<ReturnType<typeof buildVectorRequest>>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request(`${gw.url}${req.url}`, { method: req.method, headers: req.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

test('every JWT vector through the gateway: status, reason, challenge; attacks never reach the backend; all audited', async () => {
  const vectors = await loadJwtVectors();
  assert.ok(vectors.length >= 50, `only ${vectors.length} vectors`);
  const expectations = new Map<string, { reason: string | undefined; accept: boolean; name: string }>();
  for (const vector of vectors) {
    const before = backend.seen.length;
    const res = await send(await buildVectorRequest(vector, env));
    const requestId = String(res.headers['x-request-id'] ?? '');
    assert.ok(requestId.length >= 16, `${vector.name}: no request id`);
    if (vector.expect.accept) {
      assert.equal(res.status, 200, `${vector.name}: ${res.body}`);
      assert.equal(backend.seen.length, before + 1, `${vector.name}: backend not called`);
      const seen = backend.seen.at(-1);
      assert.equal(seen?.headers.authorization, undefined, `${vector.name}: token passed through`);
      assert.ok(seen?.headers['x-behalf-assertion'], `${vector.name}: no assertion`);
      expectations.set(requestId, { reason: 'allowed-by-rule', accept: true, name: vector.name });
    } else {
      assert.equal(res.status, vector.expect.status, `${vector.name}: ${res.body}`);
      assert.equal((JSON.parse(res.body) as { error: string }).error, vector.expect.reason, vector.name);
      assert.equal(backend.seen.length, before, `${vector.name}: reached the backend`);
      const challenge = String(res.headers['www-authenticate'] ?? '');
      if (res.status === 401) {
        assert.match(challenge, /^Bearer .*resource_metadata="/, vector.name);
        if (vector.expect.challengeError === null || vector.expect.challengeError === undefined) assert.doesNotMatch(challenge, /error=/, vector.name);
        else assert.match(challenge, new RegExp(`error="${vector.expect.challengeError}"`), vector.name);
      }
      // A JWT's shape (header.payload), not a bare "eyJ": a random request id may contain that.
      assert.doesNotMatch(res.body, /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/, `${vector.name}: the response echoes a token`);
      expectations.set(requestId, { reason: vector.expect.reason, accept: false, name: vector.name });
    }
  }
  assert.equal(env.attackerHits(), 0, 'a jku/x5u/embedded URL was fetched');

  const records = await gw.auditRecords();
  for (const [requestId, expected] of expectations) {
    const record = records.findLast((r) => r.requestId === requestId);
    assert.ok(record, `${expected.name}: not audited`);
    assert.equal(record.decision, expected.accept ? 'allow' : 'deny', expected.name);
    assert.equal(record.reason, expected.reason, expected.name);
  }
  const text = JSON.stringify(records);
  assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\./, 'a token reached the audit trail');
});
