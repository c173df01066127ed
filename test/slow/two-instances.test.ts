/**
 * Two `behalf serve` processes behind an imaginary load balancer, sharing Redis (limits and
 * revocations) and PostgreSQL (the audit trail), behave as one gateway: a per-user limit of N
 * per minute allows N calls in total across both, a revocation made on one is enforced by the
 * other within a second, and the audit of both verifies as one trail.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { freshSchema, sql } from '../audit/postgres-helpers.js';
import { runCli, spawnCli, tempDir, type CliProcess } from '../cli/helpers.js';
import { adminClient, keysUnder, REDIS_URL, testPrefix } from '../limit/redis-env.js';
import { bearer, startQuietIdp } from '../e2e/e2e-env.js';
import { startRecordingBackend, type RecordingBackend } from '../e2e/harness.js';

const PUBLIC_URL = 'http://behalf.test';
const ADMIN_TOKEN = 'two-instances-admin-token-0123456789abcdef';
const LIMIT = 4;

const CONFIG = `
server: { host: 127.0.0.1, port: "\${PORT}", publicUrl: "${PUBLIC_URL}" }
issuers:
  - { id: dev, issuer: "\${IDP}", audience: "${PUBLIC_URL}", jwksUri: "\${IDP}/jwks" }
routes:
  - { id: reviews, path: /api/reviews, upstream: "\${UPSTREAM}/reviews" }
policies:
  - { id: anyone, effect: allow, match: { routes: [reviews] } }
limits:
  store: "${REDIS_URL}"
  keyPrefix: "\${PREFIX}limit:"
  onStoreError: deny
  rules:
    - { id: per-user, key: [user], rate: { limit: ${LIMIT}, windowSeconds: 60 } }
revocation: { store: "${REDIS_URL}", keyPrefix: "\${PREFIX}", syncMs: 100 }
admin: { port: "\${ADMIN_PORT}", token: "\${ADMIN_TOKEN}" }
signing: { keyFile: "\${STATE}/keys.json" }
audit: { store: "\${AUDIT_STORE}", spool: { dir: "\${STATE}/spool" } }
log: { level: warn }
`;

interface Instance {
  url: string;
  admin: string;
  proc: CliProcess;
}

async function startInstance(dir: string, vars: Record<string, string>): Promise<Instance> {
  const port = await freePort();
  const adminPort = await freePort();
  const configFile = join(dir, 'behalf.yaml');
  await writeFile(configFile, CONFIG);
  const proc = spawnCli(['serve', '--config', configFile], { ...vars, PORT: String(port), ADMIN_PORT: String(adminPort), STATE: dir, ADMIN_TOKEN });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.status, () => 0);
    if (ready === 200) return { url, admin: `http://127.0.0.1:${adminPort}`, proc };
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`behalf serve did not become ready (last /readyz ${ready})\nstderr: ${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('two gateway processes sharing Redis and PostgreSQL', () => {
  const prefix = testPrefix();
  let idp: DevIdp;
  let backend: RecordingBackend;
  let store: string;
  let schema: string;
  let a: Instance;
  let b: Instance;

  before(async () => {
    backend = await startRecordingBackend();
    idp = await startQuietIdp(PUBLIC_URL);
    ({ url: store, schema } = await freshSchema());
    const vars = { IDP: idp.issuer, UPSTREAM: backend.url, PREFIX: prefix, AUDIT_STORE: store };
    [a, b] = await Promise.all([startInstance(await tempDir(), vars), startInstance(await tempDir(), vars)]);
  });

  after(async () => {
    for (const i of [a, b]) {
      if (i === undefined) continue;
      const gone = i.proc.exited(10_000);
      i.proc.child.kill('SIGTERM');
      await gone;
    }
    await idp?.close();
    await backend?.close();
    const redis = await adminClient();
    const keys = await keysUnder(redis, prefix);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const get = (instance: Instance, headers: Record<string, string>) => fetch(`${instance.url}/api/reviews`, { headers }).then(async (r) => (await r.arrayBuffer(), r.status));

  test(`a per-user limit of ${LIMIT} per minute allows ${LIMIT} calls in total across both, not ${2 * LIMIT}`, async () => {
    const carol = await bearer(idp, 'carol');
    const statuses: number[] = [];
    for (let i = 0; i < 2 * LIMIT; i++) statuses.push(await get(i % 2 === 0 ? a : b, carol));
    assert.equal(statuses.filter((s) => s === 200).length, LIMIT, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 429).length, LIMIT);
    assert.equal((await get(b, await bearer(idp, 'alice'))), 200, 'another user has her own limit');
  });

  test('a revocation made on one instance is enforced by the other within a second', async () => {
    const bob = await bearer(idp, 'bob');
    assert.equal(await get(b, bob), 200);
    const revoked = await runCli(['revoke', 'user', 'bob', '--reason', 'two-instance test'], { BEHALF_ADMIN_TOKEN: ADMIN_TOKEN, BEHALF_ADMIN_URL: a.admin });
    assert.equal(revoked.code, 0, revoked.err);
    const started = Date.now();
    let status = 200;
    while (status !== 401 && Date.now() - started < 1_000) {
      status = await get(b, bob);
      if (status !== 401) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(status, 401, 'the other instance still served a revoked user after 1 s');
    assert.equal(await get(a, bob), 401);
    const listed = await runCli(['revoke', 'list', '--json'], { BEHALF_ADMIN_TOKEN: ADMIN_TOKEN, BEHALF_ADMIN_URL: b.admin });
    assert.deepEqual((JSON.parse(listed.out) as { value: string }[]).map((r) => r.value), ['bob'], 'the other instance lists it too');
  });

  test('the audit records of both instances form one trail that verifies', async () => {
    const verify = await runCli(['audit', 'verify', '--store', store, '--json']);
    assert.equal(verify.code, 0, verify.err);
    const result = JSON.parse(verify.out) as { ok: boolean; records: number };
    assert.equal(result.ok, true);
    const rows = await sql<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".behalf_audit_records`);
    assert.equal(Number(rows[0]!.n), result.records);
    const query = await runCli(['audit', 'query', '--store', store, '--json']);
    const records = query.out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { reason: string; user?: string; door: string; seq: number });
    assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i + 1), 'one gapless sequence');
    assert.equal(records.filter((r) => r.reason === 'rate-limited').length, LIMIT);
    assert.equal(records.filter((r) => r.reason === 'revocation-added').length, 1);
    assert.ok(records.some((r) => r.reason === 'token-revoked' && r.user === 'bob'));
  });
});
