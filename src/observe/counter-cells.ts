import type { Counter } from 'prom-client';

/**
 * Per-request counting for a labelled prom-client counter without its per-call cost. Its `inc`
 * with labels builds a hash string from the label object and checks the names on every call
 * (~0.5 us), and a child from `labels(...)` does the same (it is `inc` bound to the object).
 * Here each label combination gets a cell, found through one map per label (no string built,
 * no object allocated) and counted with `+1`; the cells' counts are handed to the counter in
 * one `inc` per combination when it is read (its `collect`, which prom-client calls before every
 * scrape and every `get()`). What a scrape shows is therefore exactly what direct `inc`s would
 * have shown, series in the same first-seen order.
 *
 * This does NOT bound the label values: as with direct `inc`s (whose series prom-client keeps
 * for good), callers pass values from a bounded set (route ids, tool names from config, fixed
 * reasons). Past {@link MAX_CELLS} combinations, new ones are counted on the counter directly.
 */

/** Combinations kept as cells; the rest go straight to the counter (same result, slower). */
const MAX_CELLS = 10_000;

interface Cell {
  readonly labels: Readonly<Record<string, string>>;
  pending: number;
}

type Node = Map<string, Node | Cell>;

/** The cells of one counter with one to four label names. See the file comment. */
export class CounterCells {
  private readonly root: Node = new Map();
  private readonly cells: Cell[] = [];
  private counter: Counter<string> | undefined;

  constructor(private readonly labelNames: readonly string[]) {
    if (labelNames.length < 1 || labelNames.length > 4) throw new RangeError('counter cells take one to four label names');
  }

  /** The counter the counts go to; set once, right after the counter is created with {@link flushInto} as its `collect`. */
  attach(counter: Counter<string>): void {
    this.counter = counter;
  }

  /** Count one for the label values, given in the order of the label names. */
  inc(a: string, b?: string, c?: string, d?: string): void {
    const depth = this.labelNames.length;
    let node = this.root;
    for (let level = 0; level < depth; level++) {
      const value = (level === 0 ? a : level === 1 ? b : level === 2 ? c : d) as string;
      const found = node.get(value);
      if (found === undefined) return this.first(a, b, c, d);
      if (level === depth - 1) {
        (found as Cell).pending++;
        return;
      }
      node = found as Node;
    }
  }

  /** Hand every pending count to the counter (a prom-client `collect`: runs before each read). */
  flushInto(counter: Counter<string>): void {
    for (const cell of this.cells) {
      if (cell.pending === 0) continue;
      const n = cell.pending;
      cell.pending = 0;
      counter.inc(cell.labels, n);
    }
  }

  /** A combination seen for the first time: make its cell, or count it directly past the bound. */
  private first(a: string, b?: string, c?: string, d?: string): void {
    const values = [a, b, c, d].slice(0, this.labelNames.length) as string[];
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, i) => {
      labels[name] = values[i]!;
    });
    if (this.cells.length >= MAX_CELLS) {
      this.counter?.inc(labels);
      return;
    }
    let node = this.root;
    for (let level = 0; level < values.length - 1; level++) {
      let child = node.get(values[level]!) as Node | undefined;
      if (child === undefined) {
        child = new Map();
        node.set(values[level]!, child);
      }
      node = child;
    }
    const cell: Cell = { labels, pending: 1 };
    node.set(values[values.length - 1]!, cell);
    this.cells.push(cell);
  }
}
