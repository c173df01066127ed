import type { AuditQuery } from '../stores/types.js';
import type { KeptValue } from './kept-values.js';
import type { AuditRecord } from './record.js';
import { secretDigest } from './secret-shape.js';

/**
 * The meaning of an {@link AuditQuery}, in one place so every store filters the same way:
 * exact string matches, `since` inclusive, `until` exclusive, on `AuditRecord.time`.
 */

/** Does the kept value `kept` hold `wanted` (see {@link AuditQuery.args})? */
function keptHolds(kept: KeptValue | undefined, wanted: string): boolean {
  if (kept === undefined) return false;
  if (typeof kept === 'string') return kept === wanted || (kept.startsWith('sha256:') && kept === secretDigest(wanted));
  if (kept === null || typeof kept !== 'object') return String(kept) === wanted || (typeof kept === 'number' && Number(wanted) === kept && wanted.trim() !== '');
  if (Array.isArray(kept)) return (kept as readonly KeptValue[]).some((item) => keptHolds(item, wanted));
  return false;
}

function argsMatch(rec: AuditRecord, wanted: Readonly<Record<string, string>>): boolean {
  const kept = rec.args ?? rec.query;
  if (kept === undefined) return false;
  for (const name of Object.keys(wanted)) {
    if (!Object.hasOwn(kept, name) || !keptHolds(kept[name], wanted[name]!)) return false;
  }
  return true;
}

/**
 * Does `rec` match every filter set in `q`? (`q.limit` is not a filter and is ignored here.)
 * A record whose `time` cannot be parsed never matches a query with `since` or `until`.
 */
export function matchesQuery(rec: AuditRecord, q: AuditQuery): boolean {
  if (q.user !== undefined && rec.user !== q.user) return false;
  if (q.route !== undefined && rec.route !== q.route) return false;
  if (q.tool !== undefined && rec.tool !== q.tool) return false;
  if (q.decision !== undefined && rec.decision !== q.decision) return false;
  if (q.reason !== undefined && rec.reason !== q.reason) return false;
  if (q.requestId !== undefined && rec.requestId !== q.requestId) return false;
  if (q.client !== undefined && rec.client !== q.client) return false;
  if (q.door !== undefined && rec.door !== q.door) return false;
  if (q.session !== undefined && rec.session !== q.session) return false;
  if (q.upstream !== undefined && rec.upstream !== q.upstream) return false;
  if (q.args !== undefined && !argsMatch(rec, q.args)) return false;
  if (q.since !== undefined || q.until !== undefined) {
    const t = Date.parse(rec.time);
    if (Number.isNaN(t)) return false;
    if (q.since !== undefined && t < q.since.getTime()) return false;
    if (q.until !== undefined && t >= q.until.getTime()) return false;
  }
  return true;
}

/**
 * Keeps the newest `limit` items pushed, in push order, in O(limit) memory. Used to answer
 * "the newest N matching records" while scanning oldest first.
 */
export class NewestN<T> {
  private readonly ring: T[] = [];
  private next = 0;

  constructor(readonly limit: number) {}

  push(item: T): void {
    if (this.limit <= 0) return;
    if (this.ring.length < this.limit) this.ring.push(item);
    else this.ring[this.next] = item;
    this.next = (this.next + 1) % this.limit;
  }

  get count(): number {
    return this.ring.length;
  }

  /** The kept items, oldest first. */
  items(): T[] {
    return this.ring.length < this.limit ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}
