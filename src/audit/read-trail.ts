import { setTimeout as sleep } from 'node:timers/promises';
import { BehalfError } from '../errors.js';
import type { AuditQuery } from '../stores/types.js';
import { parseStoredLine } from './chain.js';
import { matchesQuery, NewestN } from './query-filter.js';
import type { StoredAuditRecord } from './record.js';
import { inspectTail, listSegments, readLines, type Segment } from './segment-files.js';

/**
 * Reading the file store for `query` and `follow`. Readers take no lock and may run while the
 * gateway writes: they only ever consume newline-terminated lines, so a batch being written is
 * seen whole or not at all. Malformed lines are skipped here; `verify()` is what reports them.
 */

/** Read only up to byte `end` of segment `segment`, and nothing newer. */
export interface ReadBound {
  readonly segment: string;
  readonly end: number;
}

async function* segmentRecords(seg: Segment, end?: number): AsyncGenerator<StoredAuditRecord> {
  try {
    for await (const l of readLines(seg.path, end === undefined ? {} : { end })) {
      if (!l.terminated) return;
      const rec = parseStoredLine(l.text);
      if (typeof rec !== 'string') yield rec;
    }
  } catch (err) {
    if (err instanceof BehalfError) throw err;
    throw new BehalfError('audit-read-failed', `cannot read ${seg.name}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
}

function bounded(segments: Segment[], bound: ReadBound | undefined): { seg: Segment; end?: number }[] {
  const out: { seg: Segment; end?: number }[] = [];
  for (const seg of segments) {
    if (bound !== undefined && seg.name > bound.segment) break;
    out.push(bound !== undefined && seg.name === bound.segment ? { seg, end: bound.end } : { seg });
  }
  return out;
}

/**
 * Matching records of the trail in `dir`, oldest first. With `q.limit`, only the newest
 * `limit` matches (read newest segment first, so a short tail does not read old segments).
 */
export async function* queryTrail(dir: string, q: AuditQuery, bound?: ReadBound): AsyncGenerator<StoredAuditRecord> {
  const parts = bounded(await listSegments(dir), bound);
  if (q.limit === undefined) {
    for (const { seg, end } of parts) {
      for await (const rec of segmentRecords(seg, end)) if (matchesQuery(rec, q)) yield rec;
    }
    return;
  }
  const chunks: StoredAuditRecord[][] = [];
  let have = 0;
  for (let i = parts.length - 1; i >= 0 && have < q.limit; i--) {
    const { seg, end } = parts[i]!;
    const keep = new NewestN<StoredAuditRecord>(q.limit - have);
    for await (const rec of segmentRecords(seg, end)) if (matchesQuery(rec, q)) keep.push(rec);
    chunks.unshift(keep.items());
    have += keep.count;
  }
  for (const chunk of chunks) yield* chunk;
}

/**
 * The newest `last` records, then every record appended after them, until `signal` aborts.
 * Polls the newest segment every `pollMs` (stat-free: it just reads from the last offset) and
 * moves to the next segment when the writer rotates.
 */
export async function* followTrail(dir: string, opts: { last: number; signal: AbortSignal; pollMs: number }): AsyncGenerator<StoredAuditRecord> {
  const { signal } = opts;
  let cur = (await listSegments(dir)).at(-1);
  let offset = cur === undefined ? 0 : (await inspectTail(cur.path)).completeEnd;
  if (opts.last > 0 && cur !== undefined) yield* queryTrail(dir, { limit: opts.last }, { segment: cur.name, end: offset });
  let next: Segment | undefined;
  while (!signal.aborted) {
    let progressed = false;
    if (cur !== undefined) {
      for await (const l of readLines(cur.path, { start: offset })) {
        if (!l.terminated) break;
        offset = l.end;
        progressed = true;
        const rec = parseStoredLine(l.text);
        if (typeof rec !== 'string') yield rec;
        if (signal.aborted) return;
      }
    }
    if (progressed) continue;
    if (next !== undefined) {
      cur = next;
      offset = 0;
      next = undefined;
      continue;
    }
    const name = cur?.name;
    next = (await listSegments(dir)).find((s) => name === undefined || s.name > name);
    // The writer finishes a segment before it creates the next one, but our last read may have
    // raced its final batch: read the current segment once more before switching.
    if (next !== undefined) continue;
    try {
      await sleep(opts.pollMs, undefined, { signal });
    } catch {
      return;
    }
  }
}
