/**
 * Signed checkpoints on the embedded store: the gateway's checkpointer signs the durable head,
 * `verifyTrail` and `behalf audit verify` check them, and the attacks a checkpoint exists for are
 * detected: a complete rewrite with recomputed hashes (which the chain alone accepts), a trail cut
 * short, a forged checkpoint, a checkpoint dressed as another token type, and the reverse.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CompactSign, generateKeyPair, exportJWK, calculateJwkThumbprint } from 'jose';
import { createAuditor } from '../../src/audit/auditor.js';
import { sealRecord, GENESIS_PREV, parseStoredLine } from '../../src/audit/chain.js';
import { CHECKPOINT_FILE } from '../../src/audit/checkpoint-file.js';
import { CHECKPOINT_TYPE, importCheckpointKeys, type CheckpointKeys } from '../../src/audit/checkpoint-format.js';
import { startCheckpointer } from '../../src/audit/checkpointer.js';
import { encodeHead, HEAD_FILE } from '../../src/audit/head-file.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { listSegments } from '../../src/audit/segment-files.js';
import { verifyTrail } from '../../src/audit/verify-checkpoints.js';
import { createVerifier } from '../../src/backend/index.js';
import { openFileAuditStore } from '../../src/audit/file-store.js';
import { ASSERTION_TYPE } from '../../src/forward/identity/assertion-claims.js';
import { loadSigningKeys, type SigningKeys } from '../../src/forward/identity/signing-keys.js';
import { readLinesOf, rec, runAuditCli, writeLines } from './helpers.js';

/** A trail of `n` records written through the auditor with a checkpointer signing every `every`. */
async function checkpointedTrail(dir: string, keys: SigningKeys, n: number, every: number): Promise<void> {
  const store = await openFileAuditStore(dir, { flushMs: 0 });
  const checkpointer = startCheckpointer(store.checkpoints, keys, { everyRecords: every, everyMs: 60_000 });
  const auditor = createAuditor(store, { checkpointer });
  for (let i = 1; i <= n; i++) {
    await auditor.record(rec(i));
    if (i % every === 0) await checkpointer.checkpoint();
  }
  await auditor.close();
}

/** What someone with write access but without the key does: change record 1, reseal everything, fix the head. */
async function rewriteTrail(dir: string, change: (r: AuditRecord, seq: number) => AuditRecord): Promise<void> {
  const [segment] = await listSegments(dir);
  const lines = await readLinesOf(segment!.path);
  let seq = 0;
  let hash = GENESIS_PREV;
  const out: string[] = [];
  for (const line of lines) {
    const stored = parseStoredLine(line);
    assert.ok(typeof stored !== 'string');
    const { seq: _s, prev: _p, hash: _h, ...body } = stored;
    const sealed = sealRecord(change(body as AuditRecord, seq + 1), seq, hash);
    out.push(sealed.line);
    seq = sealed.seq;
    hash = sealed.hash;
  }
  await writeLines(segment!.path, out);
  await writeFile(join(dir, HEAD_FILE), encodeHead({ seq, hash }));
}

/** Cut the trail to its first `keep` records, head file included (so only a checkpoint can tell). */
async function truncateTrail(dir: string, keep: number): Promise<void> {
  const [segment] = await listSegments(dir);
  const lines = (await readLinesOf(segment!.path)).slice(0, keep);
  await writeLines(segment!.path, lines);
  const last = parseStoredLine(lines.at(-1)!);
  assert.ok(typeof last !== 'string');
  await writeFile(join(dir, HEAD_FILE), encodeHead({ seq: last.seq, hash: last.hash }));
}

/** A checkpoint line as the store writes it, around any JWS. */
const line = (jws: string, seq: number) => `${JSON.stringify({ seq, hash: '0'.repeat(64), time: new Date().toISOString(), kid: 'x', jws })}\n`;

describe('signed checkpoints on the embedded store', () => {
  let base: string;
  let keys: SigningKeys;
  let keySet: CheckpointKeys;
  let keyFile: string;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'behalf-checkpoints-'));
    keyFile = join(base, 'keys.json');
    keys = await loadSigningKeys({ algorithm: 'ES256', keyFile, rotateAfterDays: 0, overlapSeconds: 3_600 }, { baseDir: base });
    keySet = await importCheckpointKeys(keys.publicJwks());
  });
  after(() => rm(base, { recursive: true, force: true }));

  const freshTrail = async (name: string, n = 30, every = 10): Promise<string> => {
    const dir = join(base, name);
    await checkpointedTrail(dir, keys, n, every);
    return dir;
  };
  const verify = async (dir: string, opts: Parameters<typeof verifyTrail>[1]) => {
    const store = await openFileAuditStore(dir, { readOnly: true });
    try {
      return await verifyTrail(store, opts);
    } finally {
      await store.close();
    }
  };

  test('an intact trail verifies: every checkpoint checked, the newest covers every record', async () => {
    const dir = await freshTrail('intact');
    const result = await verify(dir, { keys: keySet, maxUncovered: 0 });
    assert.equal(result.ok, true, JSON.stringify(result.problem));
    assert.equal(result.records, 30);
    const c = result.checkpoints!;
    assert.equal(c.checked, true);
    assert.ok(c.verified >= 3, `checkpoints every 10 records: ${c.verified}`);
    assert.equal(c.verified, c.stored);
    assert.equal(c.newest?.seq, 30);
    assert.equal(c.newest?.kid, keys.current().kid);
    assert.equal(c.uncovered, 0);

    const cli = await runAuditCli(['audit', 'verify', '--store', dir, '--key-file', keyFile]);
    assert.equal(cli.code, 0, cli.err);
    assert.equal(cli.out[0], 'audit trail OK: 30 records');
    assert.match(cli.out[1]!, new RegExp(`^checkpoints: ${c.stored} stored, ${c.stored} verified$`));
    assert.match(cli.out[2]!, /newest verified checkpoint: record 30, signed \S+Z by key \S+: records 1 to 30 are vouched for/);
  });

  test('the checkpointer signs by itself every N records, and at close', async () => {
    const dir = join(base, 'by-count');
    const store = await openFileAuditStore(dir, { flushMs: 0 });
    const checkpointer = startCheckpointer(store.checkpoints, keys, { everyRecords: 10, everyMs: 3_600_000 });
    const auditor = createAuditor(store, { checkpointer });
    for (let i = 1; i <= 25; i++) await auditor.record(rec(i));
    await auditor.close();
    const seqs = (await readLinesOf(join(dir, CHECKPOINT_FILE))).map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.equal(seqs.length, 3, `checkpoints at ${seqs.join(', ')}`);
    assert.ok(seqs[0]! >= 10 && seqs[0]! < 20 && seqs[1]! >= 20 && seqs[1]! < 25, `checkpoints at ${seqs.join(', ')}`);
    assert.equal(seqs[2], 25, 'the last one, at close, covers every record');
    assert.equal(checkpointer.stats.signed, 3);
  });

  test('records written without waiting for their fsync are covered once durable: the last checkpoint at close covers them all', async () => {
    const dir = join(base, 'by-count-written');
    const store = await openFileAuditStore(dir, { flushMs: 0 });
    const checkpointer = startCheckpointer(store.checkpoints, keys, { everyRecords: 10, everyMs: 3_600_000 });
    const auditor = createAuditor(store, { checkpointer });
    for (let i = 1; i <= 25; i++) await auditor.record(rec(i), { durability: 'written' });
    await auditor.close();
    const result = await verify(dir, { keys: keySet, maxUncovered: 0 });
    assert.equal(result.ok, true, JSON.stringify(result.problem));
    assert.equal(result.checkpoints?.newest?.seq, 25);
  });

  test('a complete rewrite with recomputed hashes passes the chain alone, and fails against the checkpoints', async () => {
    const dir = await freshTrail('rewritten');
    await rewriteTrail(dir, (r, seq) => (seq === 4 ? { ...r, path: '/api/hr/reviews/someone-else' } : r));
    const unanchored = await verify(dir, {});
    assert.equal(unanchored.ok, true, 'without the keys the rewrite is consistent: the hole checkpoints close');
    const result = await verify(dir, { keys: keySet });
    assert.equal(result.ok, false);
    assert.equal(result.problem?.kind, 'edited');
    assert.equal(result.problem?.seq, 10, 'the first checkpoint after the edit catches it');
    assert.match(result.problem!.message, /record 10 is not the one the checkpoint signed at \S+ \(checkpoints\.jsonl:\d+\) vouches for/);

    const cli = await runAuditCli(['audit', 'verify', '--store', dir, '--key-file', keyFile]);
    assert.equal(cli.code, 1);
    assert.match(cli.out[0]!, /^audit trail BROKEN: edited at seq 10/);
    assert.match(cli.err, /audit-chain-broken/);
  });

  test('a rewrite that also deletes the checkpoints leaves too many records uncovered', async () => {
    const dir = await freshTrail('rewritten-and-emptied');
    await rewriteTrail(dir, (r) => ({ ...r, latencyMs: 1 }));
    await unlink(join(dir, CHECKPOINT_FILE));
    const result = await verify(dir, { keys: keySet, maxUncovered: 12 });
    assert.equal(result.ok, false);
    assert.equal(result.problem?.kind, 'unanchored');
    assert.match(result.problem!.message, /^30 record\(s\) no verified checkpoint vouches for any of them, more than the 12/);
    const cli = await runAuditCli(['audit', 'verify', '--store', dir, '--key-file', keyFile, '--max-uncovered', '12']);
    assert.equal(cli.code, 1);
    assert.ok(cli.out.some((l) => /not covered by a checkpoint: 30 record\(s\), 1 to 30/.test(l)), cli.out.join('\n'));
  });

  test('a trail cut short, head file fixed up, is caught by the checkpoint past its end', async () => {
    const dir = await freshTrail('truncated');
    await truncateTrail(dir, 25);
    assert.equal((await verify(dir, {})).ok, true, 'the chain and head alone accept the shorter trail');
    const result = await verify(dir, { keys: keySet });
    assert.equal(result.ok, false);
    assert.equal(result.problem?.kind, 'truncated');
    assert.match(result.problem!.message, /the trail ends at record 25 but the checkpoint signed at \S+ \(checkpoints\.jsonl:\d+\) vouches for record 30: records 26 to 30 are missing/);
  });

  test('records cut off with their stored checkpoints pass locally, and fail against a copy of the checkpoints kept elsewhere', async () => {
    const dir = await freshTrail('cut-with-checkpoints');
    const cps = await readLinesOf(join(dir, CHECKPOINT_FILE));
    const copy = join(base, 'received-checkpoints.jsonl');
    await writeLines(copy, cps.map((l) => JSON.stringify({ type: 'behalf-checkpoint', ...JSON.parse(l) })));
    await truncateTrail(dir, 20);
    await writeLines(join(dir, CHECKPOINT_FILE), cps.filter((l) => (JSON.parse(l) as { seq: number }).seq <= 20));
    const local = await runAuditCli(['audit', 'verify', '--store', dir, '--key-file', keyFile]);
    assert.equal(local.code, 0, 'within what the gateway may leave uncovered, the cut is invisible locally');
    const withCopy = await runAuditCli(['audit', 'verify', '--store', dir, '--key-file', keyFile, '--checkpoints', copy]);
    assert.equal(withCopy.code, 1);
    assert.match(withCopy.out[0]!, /^audit trail BROKEN: truncated at seq 21/);
    assert.match(withCopy.out[1]!, /received-checkpoints\.jsonl:\d+\) vouches for record 30/);
  });

  test('a checkpoint signed by another key under the real kid is forged; under its own kid it is not used', async () => {
    const dir = await freshTrail('forged');
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const sign = (kid: string, seq: number, hash: string) =>
      new CompactSign(Buffer.from(JSON.stringify({ seq, hash, time: new Date().toISOString() }))).setProtectedHeader({ alg: 'ES256', kid, typ: CHECKPOINT_TYPE }).sign(privateKey);
    const cps = await readLinesOf(join(dir, CHECKPOINT_FILE));
    const realHead = JSON.parse(cps.at(-1)!) as { seq: number; hash: string };

    await appendFile(join(dir, CHECKPOINT_FILE), line(await sign(keys.current().kid, realHead.seq, realHead.hash), realHead.seq));
    const forged = await verify(dir, { keys: keySet });
    assert.equal(forged.ok, false);
    assert.equal(forged.problem?.kind, 'forged');
    assert.match(forged.problem!.message, /the signature does not verify with key/);
    assert.match(forged.problem!.file!, /^checkpoints\.jsonl:\d+$/);

    // The attacker's own key: unknown, so it vouches for nothing (and an auditor who is given it
    // as the gateway's key has been deceived before verification starts).
    await writeLines(join(dir, CHECKPOINT_FILE), cps);
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    await appendFile(join(dir, CHECKPOINT_FILE), line(await sign(kid, realHead.seq, realHead.hash), realHead.seq));
    const unknown = await verify(dir, { keys: keySet });
    assert.equal(unknown.ok, true);
    assert.equal(unknown.checkpoints?.unknownKey, 1);
    assert.deepEqual(unknown.checkpoints?.unknownKids, [kid]);
    assert.ok(unknown.warnings?.some((w) => w.includes(kid) && /not checked/.test(w)));
  });

  test("a JWS of the gateway's key with an assertion's typ is not a checkpoint, and a checkpoint is not an assertion", async () => {
    const dir = await freshTrail('wrong-typ');
    const head = JSON.parse((await readLinesOf(join(dir, CHECKPOINT_FILE))).at(-1)!) as { seq: number; hash: string; jws: string };
    const { kid, key } = keys.current();
    const asAssertion = await new CompactSign(Buffer.from(JSON.stringify({ seq: head.seq, hash: head.hash, time: new Date().toISOString() })))
      .setProtectedHeader({ alg: 'ES256', kid, typ: ASSERTION_TYPE })
      .sign(key);
    await appendFile(join(dir, CHECKPOINT_FILE), line(asAssertion, head.seq));
    const result = await verify(dir, { keys: keySet });
    assert.equal(result.problem?.kind, 'forged');
    assert.match(result.problem!.message, /typ is "behalf-assertion\+jwt", not behalf-checkpoint\+jwt/);

    const verifier = createVerifier({ issuer: 'https://gw.test', audience: 'https://backend.test', keys: keys.publicJwks() });
    await assert.rejects(verifier.verify({ method: 'GET', url: '/', headers: { 'x-behalf-assertion': head.jws } }), (err: Error & { code?: string }) => err.code === 'assertion-invalid');
  });

  test('checkpoints of a retired key verify while the key file holds it; with a JWKS of the new key only, they are skipped and the newest still covers all', async () => {
    const dir = join(base, 'rotated');
    const rotDir = join(base, 'rotating-keys');
    const rotKeyFile = join(rotDir, 'keys.json');
    const rotKeys = await loadSigningKeys({ algorithm: 'ES256', keyFile: rotKeyFile, rotateAfterDays: 0, overlapSeconds: 3_600 }, { baseDir: rotDir });
    const oldKid = rotKeys.current().kid;
    const store = await openFileAuditStore(dir, { flushMs: 0 });
    const checkpointer = startCheckpointer(store.checkpoints, rotKeys, { everyRecords: 1_000, everyMs: 60_000 });
    const auditor = createAuditor(store, { checkpointer });
    for (let i = 1; i <= 10; i++) await auditor.record(rec(i));
    await checkpointer.checkpoint();
    await rotKeys.rotate();
    for (let i = 11; i <= 20; i++) await auditor.record(rec(i));
    await auditor.close();

    const both = await verify(dir, { keys: await importCheckpointKeys(JSON.parse(await readFile(rotKeyFile, 'utf8'))) });
    assert.equal(both.ok, true);
    assert.equal(both.checkpoints?.unknownKey, 0);
    assert.ok(both.checkpoints!.verified >= 2);
    const newOnly = { keys: rotKeys.publicJwks().keys.filter((k) => k.kid !== oldKid) };
    const later = await verify(dir, { keys: await importCheckpointKeys(newOnly), maxUncovered: 0 });
    assert.equal(later.ok, true, JSON.stringify(later.problem));
    assert.ok(later.checkpoints!.unknownKey >= 1);
    assert.deepEqual(later.checkpoints?.unknownKids, [oldKid]);
    assert.equal(later.checkpoints?.newest?.seq, 20);

    const jwksFile = join(base, 'new-only.jwks.json');
    await writeFile(jwksFile, JSON.stringify(newOnly));
    const cli = await runAuditCli(['audit', 'verify', '--store', dir, '--jwks', jwksFile]);
    assert.equal(cli.code, 0, cli.err);
    assert.match(cli.err, new RegExp(`warning: \\d+ checkpoint\\(s\\) signed by key\\(s\\) not in the key set \\(${oldKid}\\)`));
  });

  test('without keys the checkpoints are counted, not checked, and the output says so', async () => {
    const dir = await freshTrail('no-keys', 5, 5);
    const cli = await runAuditCli(['audit', 'verify', '--store', dir]);
    assert.equal(cli.code, 0, cli.err);
    assert.match(cli.out[1]!, /^checkpoints: \d+ stored, NOT checked \(no keys/);
  });

  test('a torn last checkpoint line is a warning, and the next append starts on a clean line', async () => {
    const dir = await freshTrail('torn', 10, 5);
    await appendFile(join(dir, CHECKPOINT_FILE), '{"seq":11,"hash":"ab');
    const torn = await verify(dir, { keys: keySet });
    assert.equal(torn.ok, true);
    assert.ok(torn.warnings?.some((w) => /checkpoints\.jsonl:\d+: the last line is incomplete/.test(w)));
    // A writer reopens and signs the head again at start: that append cuts the torn line first.
    const store = await openFileAuditStore(dir, { flushMs: 0 });
    const auditor = createAuditor(store, { checkpointer: startCheckpointer(store.checkpoints, keys, { everyRecords: 1, everyMs: 60_000 }) });
    await auditor.record(rec(11));
    await auditor.close();
    const after = await verify(dir, { keys: keySet, maxUncovered: 0 });
    assert.equal(after.ok, true, JSON.stringify(after.problem));
    assert.equal(after.warnings, undefined);
    assert.equal(after.checkpoints?.newest?.seq, 11);
  });
});
