import { appendFile, truncate, unlink } from 'node:fs/promises';
import { BehalfError } from '../errors.js';
import { GENESIS_PREV, checkLink, parseStoredLine } from './chain.js';
import { readHead } from './head-file.js';
import { inspectTail, listSegments, segmentName, type Segment } from './segment-files.js';

/** Where the writer continues the chain: the last durable record and the file to append to. */
export interface WriterState {
  /** `seq` of the last record (0 for an empty trail). */
  readonly seq: number;
  /** `hash` of the last record (`''` for an empty trail). */
  readonly hash: string;
  /** Segment file name the next record goes to. */
  readonly segment: string;
  /** Its size in bytes. */
  readonly size: number;
  /** The head file is behind the trail (crash between fsync and head write): rewrite it. */
  readonly headStale: boolean;
}

function broken(message: string): BehalfError {
  return new BehalfError('audit-chain-broken', `${message}; run "behalf audit verify", keep the directory as evidence and start the gateway with a new audit directory`);
}

async function lastRecordOf(seg: Segment | undefined): Promise<{ seq: number; hash: string }> {
  if (seg === undefined) return { seq: 0, hash: GENESIS_PREV };
  const tail = await inspectTail(seg.path);
  if (tail.lastLine === undefined) return { seq: seg.firstSeq - 1, hash: GENESIS_PREV };
  const rec = parseStoredLine(tail.lastLine.text);
  if (typeof rec === 'string') throw broken(`the last record of ${seg.name} is malformed (${rec})`);
  return { seq: rec.seq, hash: rec.hash };
}

/**
 * Find where the chain ends so a writer can continue it after a restart or a failed write.
 * Reads only the end of the newest segment (and of the one before when the newest is empty).
 *
 * A final fragment without newline (a write torn by a crash) is repaired: if it is a complete
 * record that chains onto the one before, only its newline is added (a complete record is never
 * dropped); otherwise the fragment, which no `append` ever reported durable, is cut off. Both
 * are reported through `warn`. An empty newest segment that does not continue the chain is
 * removed (it holds nothing).
 *
 * This does NOT verify the chain (that reads everything: `verify()`). It does check the head
 * file: a head that names a record beyond the end, or a different hash for the last record,
 * means records were removed or rewritten, and the writer refuses to continue over it. An
 * unreadable head (possible after a power loss) is reported through `warn` and rebuilt.
 *
 * @throws BehalfError `audit-chain-broken` (see above), `audit-read-failed`.
 */
export async function recoverWriterState(dir: string, warn: (message: string) => void): Promise<WriterState> {
  const segments = await listSegments(dir);
  let state: { seq: number; hash: string; segment: string; size: number };
  const newest = segments.at(-1);
  if (newest === undefined) {
    state = { seq: 0, hash: GENESIS_PREV, segment: segmentName(1), size: 0 };
  } else {
    const tail = await inspectTail(newest.path);
    let last: { seq: number; hash: string };
    if (tail.lastLine !== undefined) {
      const rec = parseStoredLine(tail.lastLine.text);
      if (typeof rec === 'string') throw broken(`the last record of ${newest.name} is malformed (${rec})`);
      last = { seq: rec.seq, hash: rec.hash };
    } else {
      last = await lastRecordOf(segments.at(-2));
    }
    let size = tail.size;
    if (tail.fragment !== undefined) {
      const rec = parseStoredLine(tail.fragment.text);
      if (typeof rec !== 'string' && checkLink(rec, last.seq, last.hash) === 'ok') {
        await appendFile(newest.path, '\n');
        size += 1;
        last = { seq: rec.seq, hash: rec.hash };
        warn(`audit: ${newest.name} ended without a newline after record ${rec.seq}; the record is complete and was kept`);
      } else {
        await truncate(newest.path, tail.fragment.start);
        size = tail.fragment.start;
        warn(`audit: removed an incomplete final line (${tail.size - tail.fragment.start} bytes) from ${newest.name}, left by an interrupted write`);
      }
    }
    if (size === 0 && newest.firstSeq !== last.seq + 1) {
      await unlink(newest.path);
      warn(`audit: removed the empty segment ${newest.name}, which does not continue the trail`);
      const prev = segments.at(-2);
      state = prev === undefined ? { seq: last.seq, hash: last.hash, segment: segmentName(last.seq + 1), size: 0 } : { ...last, segment: prev.name, size: (await inspectTail(prev.path)).size };
    } else {
      state = { ...last, segment: newest.name, size };
    }
  }
  const head = await readHead(dir);
  if (typeof head === 'string') {
    // A power loss can leave the in-place head half-written, so this is not proof of tampering;
    // it is logged, and the head is rebuilt from the trail.
    warn(`audit: ${head}; rewriting it from the end of the trail (record ${state.seq})`);
    return { ...state, headStale: true };
  }
  if (head !== undefined) {
    if (head.seq > state.seq) throw broken(`the audit trail in ${dir} ends at record ${state.seq} but its head file vouches for record ${head.seq}: records were removed`);
    if (head.seq === state.seq && head.hash !== state.hash) throw broken(`the last audit record (${state.seq}) does not match the hash in the head file: it was rewritten`);
  }
  return { ...state, headStale: head === undefined ? state.seq > 0 : head.seq < state.seq };
}
