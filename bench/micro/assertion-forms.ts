// The cost of each assertion form on both sides, in one process, no HTTP: signing (per assertion)
// and verifying with behalf/backend (per request, the root cache warm as under load), for the
// ordinary JWT and for batches of several sizes.
// Run: node --import tsx bench/micro/assertion-forms.ts [--seconds 1] [--eddsa] (the gateway key's algorithm, default ES256)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVerifier } from '../../src/backend/index.js';
import { createAssertionSigner, type AssertionInput } from '../../src/forward/identity/signed-assertion.js';
import { loadSigningKeys } from '../../src/forward/identity/signing-keys.js';
import { EMPTY_BODY_DIGEST } from '../../src/lib/digest.js';

const i = process.argv.indexOf('--seconds');
const SECONDS = i === -1 ? 1 : Number(process.argv[i + 1]);
const dir = await mkdtemp(join(tmpdir(), 'behalf-micro-'));
const ALG = process.argv.includes('--eddsa') ? 'EdDSA' : 'ES256';
const keys = await loadSigningKeys({ algorithm: ALG, keyFile: 'k.json', rotateAfterDays: 0, overlapSeconds: 60 }, { baseDir: dir });
const ISSUER = 'http://127.0.0.1:8080';
const identity = { id: 'alice', issuer: 'http://127.0.0.1:9400', issuerId: 'idp', tenant: 'acme', email: 'alice@example.test', name: 'Alice', roles: ['manager'], groups: ['platform'], scopes: ['reviews:read'], client: 'chatgpt', expiresAt: 4_102_444_800 };
const input = (n: number): AssertionInput => ({ identity, audience: 'hr-backend', method: 'GET', path: `/v1/reviews/bob?n=${n}`, bodyDigest: EMPTY_BODY_DIGEST, ttlSeconds: 60, form: 'batched' });
const verifier = createVerifier({ issuer: ISSUER, audience: 'hr-backend', keys: keys.publicJwks() });

async function timed(label: string, perRound: number, round: () => Promise<void>): Promise<number> {
  for (let w = 0; w < 20; w++) await round();
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(SECONDS * 1e9));
  while (process.hrtime.bigint() < end) {
    await round();
    ops += perRound;
  }
  const us = Number(process.hrtime.bigint() - start) / 1_000 / ops;
  // CPU of the whole process (WebCrypto's thread-pool work included), next to the wall time.
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = (cpu.user + cpu.system) / ops;
  console.log(`${label.padEnd(44)} ${us.toFixed(2).padStart(8)} us/op wall  ${cpuUs.toFixed(2).padStart(8)} us/op cpu`);
  return us;
}

const signer = createAssertionSigner(keys, { issuer: ISSUER, batch: { maxLeaves: 4_096, maxWaitMicroseconds: 10_000 } });
const header = (t: string) => ({ method: 'GET', url: '', headers: { 'x-behalf-assertion': t } });
let n = 0;
const jwtToken = signer.signSync({ ...input(0), form: 'jwt' });
await timed(`sign: jwt (one ${ALG} signature each)`, 1, async () => void signer.signSync({ ...input(n++), form: 'jwt' }));
for (const size of [8, 32, 128]) {
  await timed(`sign: batched, batches of ${size}`, size, async () => void (await Promise.all(Array.from({ length: size }, () => signer.sign(input(n++))))));
}
await timed('verify: jwt', 1, async () => void (await verifier.verify({ ...header(jwtToken), url: '/v1/reviews/bob?n=0' })));
for (const size of [8, 32, 128]) {
  // Batch after batch, as a backend gets them: each root verified once (then cached), every leaf
  // checked. Only the verification is timed; each batch is signed just before and dropped after.
  let count = 0;
  let wallNs = 0;
  let cpuUs = 0;
  let header0 = 0;
  for (let round = 0; count < Math.max(4_096, size * 32); round++) {
    const base = n;
    const tokens = await Promise.all(Array.from({ length: size }, () => signer.sign(input(n++))));
    header0 ||= tokens[0]!.length;
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (const [k, token] of tokens.entries()) await verifier.verify({ ...header(token), url: `/v1/reviews/bob?n=${base + k}` });
    wallNs += Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpu0);
    if (round >= 4) {
      // The first rounds warm up.
      cpuUs += cpu.user + cpu.system;
      count += size;
    } else wallNs = 0;
  }
  console.log(`${`verify: batched, batches of ${size}`.padEnd(44)} ${(wallNs / 1_000 / count).toFixed(2).padStart(8)} us/op wall  ${(cpuUs / count).toFixed(2).padStart(8)} us/op cpu`);
  console.log(`  header: ${header0} chars batched (index 0) vs ${jwtToken.length} plain`);
}
await rm(dir, { recursive: true, force: true });
