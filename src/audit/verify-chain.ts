import { MAX_LISTED_OPEN_INTENTS, type ChainAnchor, type OpenIntent, type VerifyProblem, type VerifyResult } from '../stores/types.js';
import { GENESIS_PREV, computeRecordHash } from './chain.js';
import type { AuditHead } from './head-file.js';
import type { StoredAuditRecord } from './record.js';

/**
 * Store-neutral chain verification: any store feeds its records in storage order, and gets back
 * the first problem, classified, and the changes recorded as intended but never as answered.
 * Shared by the file store and the PostgreSQL store.
 */

/** One stored item, in storage order. */
export interface ChainEntry {
  /** The parsed record, or why the stored item is not a record. */
  readonly record: StoredAuditRecord | string;
  /** Where it is stored (file store: segment file name). */
  readonly file?: string;
  /** 1-based line within `file`. */
  readonly line?: number;
  /** First item of its file: lets a gap be worded as a missing file. */
  readonly firstInFile?: boolean;
}

/** Options of {@link verifyChain}. */
export interface VerifyChainOptions {
  /** The head the store kept outside the chain; a string says why it could not be read. */
  readonly head?: AuditHead | string;
  /** Name of the head for messages (default `head`). */
  readonly headName?: string;
  /** How far ahead to look for a missing record before calling it deleted (default 1000 items). */
  readonly lookahead?: number;
  /**
   * Hashes vouched for from outside the store, by seq (verified signed checkpoints): the record
   * at that seq must carry that hash, and the trail must reach the highest seq.
   */
  readonly anchors?: ReadonlyMap<number, readonly ChainAnchor[]>;
}


class Peekable<T> {
  private readonly buffer: T[] = [];
  private done = false;
  constructor(private readonly it: AsyncIterator<T>) {}

  async peek(i: number): Promise<T | undefined> {
    while (this.buffer.length <= i && !this.done) {
      const r = await this.it.next();
      if (r.done === true) this.done = true;
      else this.buffer.push(r.value);
    }
    return this.buffer[i];
  }

  async next(): Promise<T | undefined> {
    const v = await this.peek(0);
    this.buffer.shift();
    return v;
  }
}

const range = (from: number, to: number): string => (from === to ? `record ${from} is missing` : `records ${from} to ${to} are missing`);

/**
 * Recompute every hash, check that `seq` grows by exactly 1 and that `prev` links each record to
 * the one before, then compare the end of the trail with `head`. Stops at the first problem:
 * - `malformed`: an item is not a parseable record;
 * - `edited`: a record's content no longer matches its hash, a record no longer links to its
 *   predecessor (the predecessor was rewritten with a recomputed hash), or the record at the
 *   head's seq differs from the head;
 * - `deleted`: a gap in `seq` (a line or a whole segment removed);
 * - `reordered`: the missing `seq` turns up later (within `lookahead`);
 * - `inserted`: a `seq` already seen appears again;
 * - `truncated`: the trail ends before the record the head vouches for.
 *
 * This does NOT detect a consistent rewrite of the trail AND its head (compare the head with a
 * copy kept elsewhere), nor records forged and appended after the head with a correct chain.
 * It reads every item once; memory is bounded by `lookahead`.
 */
export async function verifyChain(entries: AsyncIterable<ChainEntry>, opts: VerifyChainOptions = {}): Promise<VerifyResult> {
  const lookahead = opts.lookahead ?? 1_000;
  const head = opts.head;
  const headName = opts.headName ?? 'head';
  const warnings: string[] = [];
  const it = new Peekable(entries[Symbol.asyncIterator]());
  let expected = 1;
  let prevHash = GENESIS_PREV;
  let count = 0;
  let last: ChainEntry | undefined;
  // Intents waiting for their outcome, by request id (in chain order: a Map keeps insertion order).
  const open = new Map<string, OpenIntent>();
  const fail = (seq: number, kind: VerifyProblem['kind'], message: string, where: ChainEntry | undefined): VerifyResult => {
    const problem: VerifyProblem = { seq, kind, message };
    if (where?.file !== undefined) problem.file = where.file;
    if (where?.line !== undefined) problem.line = where.line;
    return { ok: false, records: count, problem, ...(warnings.length > 0 ? { warnings } : {}) };
  };

  for (let entry = await it.next(); entry !== undefined; entry = await it.next()) {
    const r = entry.record;
    const n = expected;
    if (typeof r === 'string') return fail(n, 'malformed', `the item where record ${n} was expected is not a valid audit record (${r})`, entry);
    if (computeRecordHash(r as unknown as Record<string, unknown>) !== r.hash) {
      return fail(n, 'edited', r.seq === n ? `record ${n} was changed after it was written: its hash does not match its content` : `the record where ${n} was expected was changed after it was written (it claims seq ${r.seq} and its hash does not match)`, entry);
    }
    if (r.seq === n) {
      if (r.prev !== prevHash) {
        const q = await it.peek(0);
        if (q !== undefined && typeof q.record !== 'string' && q.record.seq === n) return fail(n, 'inserted', `two records claim seq ${n}: one of them was inserted`, entry);
        if (n === 1) return fail(1, 'edited', 'the first record does not start a chain (its prev is not empty): the trail was replaced', entry);
        return fail(n - 1, 'edited', `record ${n} does not link to record ${n - 1}: record ${n - 1} was rewritten with a recomputed hash, or record ${n} was replaced`, last);
      }
      if (typeof head === 'object' && head.seq === n && head.hash !== r.hash) {
        return fail(n, 'edited', `record ${n} is not the one the ${headName} vouches for: the trail was rewritten`, entry);
      }
      const anchored = opts.anchors?.get(n)?.find((a) => a.hash !== r.hash);
      if (anchored !== undefined) return fail(n, 'edited', `record ${n} is not the one ${anchored.name} vouches for: the trail was rewritten`, entry);
      if (r.phase === 'intent') open.set(r.requestId, { seq: r.seq, requestId: r.requestId, time: r.time });
      else if (r.phase === 'outcome') open.delete(r.requestId);
      count++;
      expected++;
      prevHash = r.hash;
      last = entry;
      continue;
    }
    if (r.seq > n) {
      for (let i = 0; i < lookahead; i++) {
        const q = await it.peek(i);
        if (q === undefined) break;
        if (typeof q.record !== 'string' && q.record.seq === n) return fail(n, 'reordered', `records are out of order: record ${r.seq} is where ${n} belongs`, entry);
      }
      const missing = range(n, r.seq - 1);
      const why = entry.firstInFile === true && entry.file !== undefined ? `${missing} before ${entry.file} (a whole segment file may have been deleted)` : missing;
      return fail(n, 'deleted', why, entry);
    }
    if (r.seq === n - 1) {
      const other = last?.line !== undefined && last.file === entry.file ? ` (lines ${last.line} and ${entry.line ?? '?'})` : '';
      return fail(n - 1, 'inserted', `two records claim seq ${n - 1}${other}: one of them was inserted`, entry);
    }
    return fail(n, 'inserted', `record ${r.seq} appears again where ${n} was expected: a record was inserted`, entry);
  }

  if (typeof head === 'string') return fail(expected, 'malformed', `the ${headName} is unusable (${head})`, { record: '', file: headName });
  if (head !== undefined && head.seq >= expected) {
    const where: ChainEntry | undefined = last === undefined ? undefined : { record: '', ...(last.file !== undefined ? { file: last.file } : {}), ...(last.line !== undefined ? { line: last.line + 1 } : {}) };
    return fail(expected, 'truncated', `the trail ends at record ${expected - 1} but the ${headName} vouches for record ${head.seq}: ${range(expected, head.seq)} (the newest records were removed)`, where);
  }
  let anchorSeq = 0;
  for (const seq of opts.anchors?.keys() ?? []) if (seq > anchorSeq) anchorSeq = seq;
  if (anchorSeq >= expected) {
    const where: ChainEntry | undefined = last === undefined ? undefined : { record: '', ...(last.file !== undefined ? { file: last.file } : {}), ...(last.line !== undefined ? { line: last.line + 1 } : {}) };
    const name = opts.anchors?.get(anchorSeq)?.[0]?.name ?? 'a checkpoint';
    return fail(expected, 'truncated', `the trail ends at record ${expected - 1} but ${name} vouches for record ${anchorSeq}: ${range(expected, anchorSeq)} (records were removed)`, where);
  }
  if (head === undefined && count > 0) warnings.push(`no ${headName}: removal of the newest records cannot be detected`);
  const result: VerifyResult = { ok: true, records: count, ...(warnings.length > 0 ? { warnings } : {}) };
  if (open.size > 0) {
    result.openIntents = [...open.values()].slice(0, MAX_LISTED_OPEN_INTENTS);
    result.openIntentCount = open.size;
  }
  return result;
}
