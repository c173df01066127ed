import { BehalfError } from '../errors.js';
import type { AuditRecord } from './record.js';

/**
 * Group commit for audit stores: records appended within a short window are handed to one
 * `flush` call (one write + one fsync for the file store, one INSERT for a database), and each
 * `push` promise settles only when every record it carried has been flushed.
 */

/** Options of a {@link BatchQueue}. */
export interface BatchQueueOptions {
  /** How long the first record of a batch waits for company, ms (0: until the next event-loop turn). */
  readonly flushMs: number;
  /** Flush at once when this many records are waiting; also the largest batch. */
  readonly maxBatch: number;
  /**
   * Make `records` durable, in order. Called one batch at a time, never concurrently. A throw
   * rejects every push with a record in the batch.
   */
  readonly flush: (records: AuditRecord[]) => Promise<void>;
}

interface Group {
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A group-commit queue. See the file comment. */
export class BatchQueue {
  private pending: { rec: AuditRecord; group: Group }[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: BatchQueueOptions) {}

  /** Records waiting for a flush (not counting the batch being flushed). */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Queue `records`; resolves once all are flushed. Cheap: no hashing or I/O happens here.
   * Rejects with `audit-write-failed` after {@link close}.
   */
  push(records: readonly AuditRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new BehalfError('audit-write-failed', 'the audit store is closed'));
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const group: Group = { remaining: records.length, settled: false, resolve, reject };
      for (const rec of records) this.pending.push({ rec, group });
      this.schedule();
    });
  }

  /** Flush what is queued, wait for it, and refuse further pushes. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearTimer();
    this.wake?.();
    if (this.running === undefined && this.pending.length > 0) this.running = this.run();
    await this.running;
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    if (this.opts.flushMs === 0) clearImmediate(this.timer as NodeJS.Immediate);
    else clearTimeout(this.timer as NodeJS.Timeout);
    this.timer = undefined;
  }

  private schedule(): void {
    // A running flush loops until the queue is empty (see run()); a full batch cuts its pause.
    if (this.running !== undefined) {
      if (this.pending.length >= this.opts.maxBatch) this.wake?.();
      return;
    }
    if (this.pending.length >= this.opts.maxBatch) {
      this.clearTimer();
      this.running = this.run();
      return;
    }
    if (this.timer !== undefined) return;
    const fire = (): void => {
      this.timer = undefined;
      if (this.running === undefined) this.running = this.run();
    };
    this.timer = this.opts.flushMs === 0 ? setImmediate(fire) : setTimeout(fire, this.opts.flushMs);
  }

  /**
   * Batches start at most once per window: records that arrived while the previous batch was
   * being fsynced wait out the rest of its window, so a steady load of N records/s costs at most
   * 1000/flushMs fsyncs per second instead of one per fsync latency. A full batch, or close(),
   * goes at once.
   */
  private async pause(started: number): Promise<void> {
    if (this.opts.flushMs === 0 || this.closed || this.pending.length === 0 || this.pending.length >= this.opts.maxBatch) return;
    const wait = started + this.opts.flushMs - performance.now();
    if (wait <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    // Yield first so the caller's `this.running = this.run()` is in place before `finally` runs.
    await undefined;
    try {
      while (this.pending.length > 0) {
        const started = performance.now();
        const batch = this.pending.splice(0, this.opts.maxBatch);
        try {
          await this.opts.flush(batch.map((b) => b.rec));
        } catch (err) {
          for (const { group } of batch) {
            if (group.settled) continue;
            group.settled = true;
            group.reject(err);
          }
          // The rest of a failed group must not be written after a hole.
          this.pending = this.pending.filter((p) => !p.group.settled);
          await this.pause(started);
          continue;
        }
        for (const { group } of batch) {
          group.remaining--;
          if (group.remaining === 0 && !group.settled) {
            group.settled = true;
            group.resolve();
          }
        }
        await this.pause(started);
      }
    } finally {
      this.running = undefined;
    }
  }
}
