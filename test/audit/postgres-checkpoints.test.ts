/**
 * Signed checkpoints on a real PostgreSQL store: two writers sharing one chain both sign it, and
 * what someone with write access to the tables but without the key can do is detected: rows
 * rewritten with recomputed hashes (and the head row moved), a checkpoint row forged, the
 * checkpoint rows deleted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CompactSign, generateKeyPair } from 'jose';
import { createAuditor } from '../../src/audit/auditor.js';
import { GENESIS_PREV, parseStoredLine, sealRecord } from '../../src/audit/chain.js';
import { CHECKPOINT_TYPE, importCheckpointKeys, type CheckpointKeys } from '../../src/audit/checkpoint-format.js';
import { startCheckpointer } from '../../src/audit/checkpointer.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { verifyTrail, type VerifyTrailOptions } from '../../src/audit/verify-checkpoints.js';
import { loadSigningKeys, type SigningKeys } from '../../src/forward/identity/signing-keys.js';
import { openPostgresAuditStore } from '../../src/stores/postgres-audit-store.js';
import { rec, runAuditCli } from './helpers.js';
import { freshSchema, sql } from './postgres-helpers.js';

describe('signed checkpoints on PostgreSQL', () => {
  let dir: string;
  let keys: SigningKeys;
  let keySet: CheckpointKeys;
  let keyFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-pg-checkpoints-'));
    keyFile = join(dir, 'keys.json');
    keys = await loadSigningKeys({ algorithm: 'ES256', keyFile, rotateAfterDays: 0, overlapSeconds: 3_600 }, { baseDir: dir });
    keySet = await importCheckpointKeys(keys.publicJwks());
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** 40 records from two writers on one chain, each with its own checkpointer (every 10 records). */
  async function sharedTrail(): Promise<{ schema: string; url: string }> {
    const { schema, url } = await freshSchema();
    const writers = await Promise.all([openPostgresAuditStore(url), openPostgresAuditStore(url)]);
    const auditors = writers.map((store) => createAuditor(store, { checkpointer: startCheckpointer(store.checkpoints, keys, { everyRecords: 10, everyMs: 60_000 }) }));
    await Promise.all(auditors.map(async (auditor, w) => {
      for (let i = 1; i <= 20; i++) await auditor.record(rec(i, { requestId: `w${w}-${i}` }));
    }));
    await Promise.all(auditors.map((a) => a.close()));
    return { schema, url };
  }

  const verify = async (url: string, opts: VerifyTrailOptions) => {
    const store = await openPostgresAuditStore(url, { readOnly: true });
    try {
      return await verifyTrail(store, opts);
    } finally {
      await store.close();
    }
  };

  test('both writers sign the shared chain; the trail verifies and the newest checkpoint covers it all', async () => {
    const { schema, url } = await sharedTrail();
    const rows = await sql<{ seq: string; kid: string }>(`SELECT seq::text AS seq, kid FROM "${schema}".behalf_audit_checkpoints ORDER BY id`);
    assert.ok(rows.length >= 4, `checkpoints: ${rows.length}`);
    const result = await verify(url, { keys: keySet, maxUncovered: 0 });
    assert.equal(result.ok, true, JSON.stringify(result.problem));
    assert.equal(result.records, 40);
    assert.equal(result.checkpoints?.verified, rows.length);
    assert.equal(result.checkpoints?.newest?.seq, 40);
    const cli = await runAuditCli(['audit', 'verify', '--store', url, '--key-file', keyFile]);
    assert.equal(cli.code, 0, cli.err);
    assert.match(cli.out.join('\n'), /records 1 to 40 are vouched for/);
  });

  test('rows rewritten with recomputed hashes and the head row moved: the chain passes, the checkpoints do not', async () => {
    const { schema, url } = await sharedTrail();
    const rows = await sql<{ seq: string; line: string }>(`SELECT seq, line FROM "${schema}".behalf_audit_records ORDER BY seq`);
    let hash = GENESIS_PREV;
    let seq = 0;
    for (const row of rows) {
      const stored = parseStoredLine(row.line);
      assert.ok(typeof stored !== 'string');
      const { seq: _s, prev: _p, hash: _h, ...body } = stored;
      const sealed = sealRecord({ ...(body as AuditRecord), latencyMs: 99 }, seq, hash);
      await sql(`UPDATE "${schema}".behalf_audit_records SET line = $1 WHERE seq = $2`, [sealed.line, sealed.seq]);
      seq = sealed.seq;
      hash = sealed.hash;
    }
    await sql(`UPDATE "${schema}".behalf_audit_head SET hash = $1 WHERE id = 1`, [hash]);
    const alone = await verify(url, {});
    assert.equal(alone.ok, true, `a consistent rewrite passes the chain alone: ${JSON.stringify(alone.problem)}`);
    const result = await verify(url, { keys: keySet });
    assert.equal(result.ok, false);
    assert.equal(result.problem?.kind, 'edited');
    assert.match(result.problem!.message, /is not the one the checkpoint signed at \S+ \(row \d+ of behalf_t_\w+\.behalf_audit_checkpoints\) vouches for/);
  });

  test('a forged checkpoint row fails; deleted checkpoint rows leave the trail unanchored', async () => {
    const { schema, url } = await sharedTrail();
    const { privateKey } = await generateKeyPair('ES256');
    const head = (await sql<{ seq: string; hash: string }>(`SELECT seq::text AS seq, hash FROM "${schema}".behalf_audit_head`))[0]!;
    const jws = await new CompactSign(Buffer.from(JSON.stringify({ seq: Number(head.seq), hash: head.hash, time: new Date().toISOString() })))
      .setProtectedHeader({ alg: 'ES256', kid: keys.current().kid, typ: CHECKPOINT_TYPE })
      .sign(privateKey);
    await sql(`INSERT INTO "${schema}".behalf_audit_checkpoints (seq, time_at, kid, jws) VALUES ($1, now(), $2, $3)`, [head.seq, keys.current().kid, jws]);
    const forged = await verify(url, { keys: keySet });
    assert.equal(forged.problem?.kind, 'forged');
    assert.match(forged.problem!.file!, /^row \d+ of behalf_t_\w+\.behalf_audit_checkpoints$/);

    await sql(`DELETE FROM "${schema}".behalf_audit_checkpoints`);
    const emptied = await verify(url, { keys: keySet, maxUncovered: 20 });
    assert.equal(emptied.ok, false);
    assert.equal(emptied.problem?.kind, 'unanchored');
    assert.equal(emptied.checkpoints?.uncovered, 40);
  });
});
