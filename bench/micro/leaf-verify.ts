// The backend's cost per batched leaf: sign batches first, then verify every leaf of them, timed
// alone: once with each root verified on its first leaf, then again with the roots cached. Run: node --import tsx bench/micro/leaf-verify.ts [--size 16] [--batches 400]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVerifier } from '../../src/backend/index.js';
import { createAssertionSigner, type AssertionInput } from '../../src/forward/identity/signed-assertion.js';
import { loadSigningKeys } from '../../src/forward/identity/signing-keys.js';
import { EMPTY_BODY_DIGEST } from '../../src/lib/digest.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const SIZE = arg('--size', 16);
const BATCHES = arg('--batches', 400);
const dir = await mkdtemp(join(tmpdir(), 'behalf-micro-'));
const keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: 'k.json', rotateAfterDays: 0, overlapSeconds: 60 }, { baseDir: dir });
const ISSUER = 'http://127.0.0.1:8080';
const identity = { id: 'alice', issuer: 'http://127.0.0.1:9400', issuerId: 'idp', tenant: 'acme', email: 'alice@example.test', name: 'Alice', roles: ['manager'], groups: ['platform'], scopes: ['reviews:read'], client: 'chatgpt', expiresAt: 4_102_444_800 };
const input = (n: number): AssertionInput => ({ identity, audience: 'hr-backend', method: 'GET', path: `/v1/reviews/bob?n=${n}`, bodyDigest: EMPTY_BODY_DIGEST, ttlSeconds: 60, form: 'batched' });
const signer = createAssertionSigner(keys, { issuer: ISSUER, batch: { maxLeaves: 4_096, maxWaitMicroseconds: 10_000 } });
const verifier = createVerifier({ issuer: ISSUER, audience: 'hr-backend', keys: keys.publicJwks() });

let n = 0;
const requests: { method: string; url: string; headers: Record<string, string> }[] = [];
for (let b = 0; b < BATCHES; b++) {
  const base = n;
  const tokens = await Promise.all(Array.from({ length: SIZE }, () => signer.sign(input(n++))));
  tokens.forEach((t, k) => requests.push({ method: 'GET', url: `/v1/reviews/bob?n=${base + k}`, headers: { 'x-behalf-assertion': t } }));
}
// First pass: each root verified once, as a backend meets a batch (JIT still warming).
{
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const r of requests) await verifier.verify(r);
  const wall = Number(process.hrtime.bigint() - t0) / 1_000 / requests.length;
  const cpu = process.cpuUsage(cpu0);
  console.log(`first pass (each root verified), batches of ${SIZE}: ${wall.toFixed(2)} us/op wall, ${((cpu.user + cpu.system) / requests.length).toFixed(2)} us/op cpu`);
}
// Then every leaf again, its root cached.
for (let round = 0; round < 3; round++) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const r of requests) await verifier.verify(r);
  const wall = Number(process.hrtime.bigint() - t0) / 1_000 / requests.length;
  const cpu = process.cpuUsage(cpu0);
  console.log(`leaf verify (root cached), batches of ${SIZE}: ${wall.toFixed(2)} us/op wall, ${((cpu.user + cpu.system) / requests.length).toFixed(2)} us/op cpu`);
}
await rm(dir, { recursive: true, force: true });
