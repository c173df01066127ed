/**
 * A gateway process killed with SIGKILL under load: after a restart on the same audit store,
 * every request a client saw answered has its audit record, and the trail verifies. Run for the
 * embedded store (with a torn final line, as a crash mid-write leaves) and for PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { readAuditTrail } from '../audit/helpers.js';
import { freshSchema } from '../audit/postgres-helpers.js';
import { runCli } from '../cli/helpers.js';
import { startRecordingBackend, type RecordingBackend } from '../e2e/harness.js';
import { AUDIENCE, killHard, serveSetup, startLoad, startServe, tearLastSegment } from '../e2e/sigkill-env.js';

/** Answered requests to wait for before the kill: enough that the kill lands mid-load. */
const ANSWERED_BEFORE_KILL = 300;

let idp: DevIdp;
let backend: RecordingBackend;
let token: string;
const dirs: string[] = [];

before(async () => {
  backend = await startRecordingBackend();
  idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@example.test' }], audience: AUDIENCE, log: () => undefined });
  token = await idp.mint('alice');
});
after(async () => {
  await idp.close();
  await backend.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Every id of `wanted` that the trail at `store` holds, waiting up to `waitMs` for stragglers. */
async function auditedIds(store: string, baseDir: string, wanted: readonly string[], waitMs = 5_000): Promise<{ found: Set<string>; records: number; duplicates: number }> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const trail = await readAuditTrail({ store }, baseDir);
    // An answered request has its record (a change's outcome); a change also has its intent.
    const answers = trail.filter((r) => r.phase !== 'intent');
    const intents = trail.filter((r) => r.phase === 'intent');
    const ids = new Set(answers.map((r) => r.requestId));
    const found = new Set(wanted.filter((id) => ids.has(id)));
    const duplicates = answers.length - ids.size + intents.length - new Set(intents.map((r) => r.requestId)).size;
    if (found.size === wanted.length || Date.now() > deadline) return { found, records: trail.length, duplicates };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Drives 16 clients at a `behalf serve` process on `auditStore`, SIGKILLs it mid-load, optionally
 * damages the store (`afterKill`), starts it again, sends a few more requests, stops it, and
 * checks the trail. Returns the restarted process's log.
 */
async function killUnderLoad(auditStore: (state: string) => string, afterKill?: (state: string) => Promise<void>): Promise<string> {
  const state = await mkdtemp(join(tmpdir(), 'behalf-sigkill-'));
  dirs.push(state);
  const store = auditStore(state);
  const setup = await serveSetup(state, { idp: idp.issuer, upstream: backend.url, auditStore: store });

  const first = await startServe(setup);
  const load = startLoad(setup.url, token);
  const deadline = Date.now() + 10_000;
  while (load.answeredSoFar() < ANSWERED_BEFORE_KILL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  // SIGKILL goes out synchronously, then the clients stop in the same tick: requests they have
  // in flight at that moment are cut, however fast the gateway was answering.
  const killed = killHard(first);
  load.stop();
  await killed;
  const { answered, failedBeforeStop, cut } = await load.done;
  assert.deepEqual(failedBeforeStop, [], 'no request failed while the gateway was up');
  assert.ok(answered.length >= ANSWERED_BEFORE_KILL, `only ${answered.length} requests answered in 10 s`);
  assert.ok(cut > 0, 'the kill landed while requests were in flight');

  if (afterKill !== undefined) await afterKill(state);

  const second = await startServe(setup);
  const afterRestart = startLoad(setup.url, token, 2);
  while (afterRestart.answeredSoFar() < 4) await new Promise((r) => setTimeout(r, 10));
  afterRestart.stop();
  const more = await afterRestart.done;
  assert.deepEqual(more.failedBeforeStop, [], 'the restarted gateway answers');
  second.child.kill('SIGTERM');
  assert.equal(await second.exited(10_000), 0, second.stderr());

  const all = [...answered, ...more.answered];
  const { found, records, duplicates } = await auditedIds(store, state, all);
  const missing = all.filter((id) => !found.has(id));
  assert.deepEqual(
    { answered: all.length, audited: found.size, missing: missing.slice(0, 5) },
    { answered: all.length, audited: all.length, missing: [] },
    `answered ${all.length} (${answered.length} before the kill, ${cut} cut by it), audited ${found.size}`,
  );
  assert.equal(duplicates, 0, 'no request was recorded twice');
  assert.ok(records >= all.length);

  const verify = await runCli(['audit', 'verify', '--store', store, '--key-file', join(state, 'keys.json')]);
  assert.equal(verify.code, 0, verify.err);
  const lines = verify.out.split('\n').filter((l) => l !== '');
  const summary = lines[0];
  // Then the signed checkpoints (the killed gateway signed at start, the second at start and stop).
  assert.match(lines[1] ?? '', /^checkpoints: (\d+) stored, \1 verified$/);
  const open = lines.slice(2).filter((l) => !l.startsWith('  newest verified checkpoint') && !l.startsWith('  records '));
  assert.equal(summary, `audit trail OK: ${records} records`);
  // Changes at the backend when the gateway died: intent, no outcome, and none of them answered.
  if (open.length > 0) assert.match(open[0]!, /^\d+ change\(s\) with an intent but no outcome/);
  for (const line of open.slice(1)) assert.ok(!all.some((id) => line.endsWith(`request ${id}`)), `an answered request listed as open: ${line}`);
  return second.stdout() + second.stderr();
}

describe('SIGKILL under load: every answered request is in the trail after a restart', () => {
  it('embedded store, with a torn final line left by the crash', async () => {
    const log = await killUnderLoad(
      (state) => join(state, 'audit'),
      (state) => tearLastSegment(join(state, 'audit')),
    );
    assert.match(log, /removed an incomplete final line/, 'the restart reports the repaired tail');
  });

  it('PostgreSQL store (fresh schema)', async () => {
    const { url } = await freshSchema();
    await killUnderLoad(() => url);
  });
});
