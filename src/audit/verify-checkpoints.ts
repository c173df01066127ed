import type { AuditStore, ChainAnchor, CheckpointItem, CheckpointReport, VerifyProblem, VerifyResult } from '../stores/types.js';
import { verifyCheckpoint, type CheckpointKeys } from './checkpoint-format.js';

/** Options of {@link verifyTrail}. */
export interface VerifyTrailOptions {
  /**
   * The gateway's public keys (its key file, or a JWKS an auditor was given). Absent: checkpoint
   * signatures are not checked and nothing is anchored (a warning says so).
   */
  readonly keys?: CheckpointKeys;
  /**
   * Most records allowed after the newest verified checkpoint before verification fails
   * (`unanchored`). The gateway leaves at most `audit.checkpoints.everyRecords` plus one batch
   * uncovered while it runs, and signs the head when it starts and stops. Absent: not checked.
   */
  readonly maxUncovered?: number;
  /**
   * Checkpoints kept outside the store (what a webhook receiver got), checked like stored ones:
   * a trail cut back together with its stored checkpoints still fails against them.
   */
  readonly extra?: AsyncIterable<CheckpointItem>;
}

const MAX_LISTED_KIDS = 10;

/**
 * Verify the trail and its signed checkpoints: read every stored checkpoint first (a checkpoint
 * is stored only after the records it names are durable, so they are all there when the chain
 * is read next), check each signature against `keys`, then verify the chain with every verified
 * checkpoint as an anchor (the record at its seq must carry its hash; the trail must reach it).
 * Because every record's hash covers its predecessor, one verified checkpoint vouches for every
 * record up to its seq: a rewrite of those records, hashes recomputed, by someone without the
 * key is detected.
 *
 * Fails (`ok: false`) on the first chain problem, then on a checkpoint that does not verify
 * (`forged`: bad signature, another `typ` such as an assertion's, a malformed payload), then, with
 * `maxUncovered`, on too many records after the newest verified checkpoint (`unanchored`).
 *
 * This does NOT use checkpoints signed by a key missing from `keys` (a retired key dropped from
 * the key file after `signing.overlapSeconds`): they are counted in `unknownKey` and a warning
 * names their kids; a newer checkpoint by a known key covers their records anyway. It does NOT
 * detect records cut off after the newest verified checkpoint together with the checkpoints
 * after it, within `maxUncovered`; nor anything by someone who holds the private key. A copy of
 * the checkpoints kept elsewhere (the webhook sink) is what closes those gaps.
 */
export async function verifyTrail(store: AuditStore, opts: VerifyTrailOptions = {}): Promise<VerifyResult> {
  if (store.checkpoints === undefined) return store.verify();
  const keys = opts.keys;
  const anchors = new Map<number, ChainAnchor[]>();
  const report: CheckpointReport = { checked: keys !== undefined, stored: 0, verified: 0, unknownKey: 0, uncovered: 0 };
  const kids = new Set<string>();
  const warnings: string[] = [];
  let forged: VerifyProblem | undefined;
  const sources = opts.extra === undefined ? [store.checkpoints.read()] : [store.checkpoints.read(), opts.extra];
  for await (const item of concat(sources)) {
    if ('problem' in item) {
      if (item.torn === true) warnings.push(`${item.where}: ${item.problem}`);
      else forged ??= { seq: 0, kind: 'malformed', file: item.where, message: `a stored checkpoint is unreadable (${item.problem})` };
      continue;
    }
    report.stored++;
    if (keys === undefined) continue;
    const check = await verifyCheckpoint(item.jws, keys);
    if (check.ok) {
      const cp = check.checkpoint;
      const list = anchors.get(cp.seq) ?? [];
      list.push({ hash: cp.hash, name: `the checkpoint signed at ${cp.time} (${item.where})` });
      anchors.set(cp.seq, list);
      report.verified++;
      if (report.newest === undefined || cp.seq > report.newest.seq || (cp.seq === report.newest.seq && cp.time > report.newest.time)) {
        report.newest = { seq: cp.seq, time: cp.time, kid: cp.kid };
      }
    } else if ('unknownKey' in check) {
      report.unknownKey++;
      kids.add(check.unknownKey);
    } else {
      forged ??= { seq: item.seq ?? 0, kind: 'forged', file: item.where, message: `a stored checkpoint does not verify against the gateway's keys (${check.invalid}): it was forged or altered` };
    }
  }
  const chain = await store.verify({ anchors });
  report.uncovered = Math.max(0, chain.records - (report.newest?.seq ?? 0));
  if (kids.size > 0) {
    report.unknownKids = [...kids].slice(0, MAX_LISTED_KIDS);
    warnings.push(`${report.unknownKey} checkpoint(s) signed by key(s) not in the key set (${report.unknownKids.join(', ')}): not checked; a key retired more than signing.overlapSeconds ago is dropped from the key file, give a JWKS that still holds it with --jwks`);
  }
  if (keys === undefined && report.stored > 0) warnings.push(`${report.stored} checkpoint(s) not checked: no keys (give --jwks, or a config or --key-file whose signing key file is readable)`);
  const all = [...(chain.warnings ?? []), ...warnings];
  const result: VerifyResult = { ...chain, checkpoints: report, ...(all.length > 0 ? { warnings: all } : {}) };
  if (!chain.ok) return result;
  if (forged !== undefined) return { ...result, ok: false, problem: forged };
  if (keys !== undefined && opts.maxUncovered !== undefined && report.uncovered > opts.maxUncovered) {
    const after = report.newest === undefined ? 'no verified checkpoint vouches for any of them' : `after the newest verified checkpoint (record ${report.newest.seq}, signed ${report.newest.time})`;
    return {
      ...result,
      ok: false,
      problem: {
        seq: (report.newest?.seq ?? 0) + 1,
        kind: 'unanchored',
        message: `${report.uncovered} record(s) ${after}, more than the ${opts.maxUncovered} the gateway leaves uncovered: checkpoints were removed, the trail was replaced, or the gateway could not write checkpoints (see its log)`,
      },
    };
  }
  return result;
}

async function* concat<T>(lists: readonly AsyncIterable<T>[]): AsyncGenerator<T> {
  for (const list of lists) yield* list;
}
