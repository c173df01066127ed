import type { StoredAuditRecord } from './record.js';

/**
 * Records in the order their requests started. A record is appended when its request ends, so a
 * long request's record comes after those of shorter requests that started later; read in `seq`
 * order, the lines of `audit tail` and `query` would jump back in time. This reorders by `time`
 * (the receipt; ISO-8601 UTC text as the gateway writes it sorts as the instants do), then
 * `seq`, holding at most `window` records: a record more than `window` records late in the trail
 * is printed late. Memory stays bounded however long the trail.
 */

/** `a` starts before `b` (ties by seq). */
function before(a: StoredAuditRecord, b: StoredAuditRecord): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** A binary min-heap of records by start. */
class StartHeap {
  private readonly items: StoredAuditRecord[] = [];

  get size(): number {
    return this.items.length;
  }

  push(rec: StoredAuditRecord): void {
    const a = this.items;
    a.push(rec);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): StoredAuditRecord {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < a.length && before(a[l]!, a[min]!)) min = l;
        if (r < a.length && before(a[r]!, a[min]!)) min = r;
        if (min === i) break;
        [a[i], a[min]] = [a[min]!, a[i]!];
        i = min;
      }
    }
    return top;
  }
}

/** `records` by start time (see the file comment), holding at most `window` (at least 1). */
export async function* inStartOrder(records: AsyncIterable<StoredAuditRecord>, window: number): AsyncGenerator<StoredAuditRecord> {
  const heap = new StartHeap();
  const hold = Math.max(1, window);
  for await (const rec of records) {
    heap.push(rec);
    if (heap.size > hold) yield heap.pop();
  }
  while (heap.size > 0) yield heap.pop();
}
