import { performance } from 'node:perf_hooks';
import { BehalfError } from '../errors.js';
import type { AuditRecord } from './record.js';

/**
 * Group commit for audit stores, in two steps. The records that arrived while the previous batch
 * was being handled go to one `write` (one write(2) for the file store); written records are
 * made durable by one `sync` (one fdatasync) for many batches.
 *
 * A `push` asks for one of two guarantees. `written` settles after the write: the record
 * survives a crash of the process. `synced` settles after a sync: it survives a power loss too,
 * and a batch holding a `synced` record is synced at once. Records that only asked for `written`
 * are synced within `syncIntervalMs` (that is the most a power loss can take from the trail), so
 * a steady stream of reads costs a few fsyncs a second, not one per batch.
 */

/** Options of a {@link BatchQueue}. */
export interface BatchQueueOptions {
  /** Extra wait before a write batch starts, ms (0: the next event-loop turn). */
  readonly flushMs: number;
  /** Longest a written record waits for its fsync when nobody waits for it, ms. */
  readonly syncIntervalMs: number;
  /** Write at once when this many records are waiting; also the largest batch. */
  readonly maxBatch: number;
  /** Hand `records` to storage, in order. Never runs concurrently with itself or `sync`. A throw rejects every push with a record in the batch. */
  readonly write: (records: AuditRecord[]) => Promise<void>;
  /** Make everything written so far durable. A throw rejects the `synced` pushes waiting for it. */
  readonly sync: () => Promise<void>;
}

/** What a push waits for: see the file comment. */
export type Durability = 'written' | 'synced';

interface Group {
  readonly synced: boolean;
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Entry {
  readonly rec: AuditRecord;
  readonly group: Group;
}

/** A two-step group-commit queue. See the file comment. */
export class BatchQueue {
  private pending: Entry[] = [];
  /** Written entries whose group waits for a sync. */
  private waitingSync: Entry[] = [];
  /** Something was written since the last sync. */
  private dirty = false;
  private lastSync = performance.now();
  private running: Promise<void> | undefined;
  private writeTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: BatchQueueOptions) {}

  /** Records waiting to be written (not counting the batch being written). */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Queue `records`; resolves at the requested durability. Cheap: no hashing or I/O happens
   * here. Rejects with `audit-write-failed` after {@link close}.
   */
  push(records: readonly AuditRecord[], durability: Durability = 'synced'): Promise<void> {
    if (this.closed) return Promise.reject(new BehalfError('audit-write-failed', 'the audit store is closed'));
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const group: Group = { synced: durability === 'synced', remaining: records.length, settled: false, resolve, reject };
      for (const rec of records) this.pending.push({ rec, group });
      this.schedule();
    });
  }

  /** Write and sync what is queued, wait for it, and refuse further pushes. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearTimers();
    this.wake?.();
    await this.running;
    if (this.pending.length > 0 || this.dirty) {
      this.running = this.run();
      await this.running;
    }
  }

  private clearTimers(): void {
    if (this.writeTimer !== undefined) {
      if (this.opts.flushMs === 0) clearImmediate(this.writeTimer as NodeJS.Immediate);
      else clearTimeout(this.writeTimer as NodeJS.Timeout);
      this.writeTimer = undefined;
    }
    if (this.syncTimer !== undefined) {
      clearTimeout(this.syncTimer);
      this.syncTimer = undefined;
    }
  }

  private start(): void {
    this.clearTimers();
    this.running ??= this.run();
  }

  private schedule(): void {
    // A running loop goes on until nothing is pending (see run()); a full batch cuts its pause.
    if (this.running !== undefined) {
      if (this.pending.length >= this.opts.maxBatch) this.wake?.();
      return;
    }
    if (this.pending.length >= this.opts.maxBatch) return this.start();
    if (this.writeTimer !== undefined) return;
    const fire = (): void => {
      this.writeTimer = undefined;
      this.start();
    };
    this.writeTimer = this.opts.flushMs === 0 ? setImmediate(fire) : setTimeout(fire, this.opts.flushMs);
  }

  /** Syncs written records within the interval even if no further record arrives. */
  private scheduleSync(): void {
    if (this.syncTimer !== undefined || this.running !== undefined || this.closed) return;
    const wait = Math.max(0, this.lastSync + this.opts.syncIntervalMs - performance.now());
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.running ??= this.run();
    }, wait);
    // close() syncs what is left; an idle store must not keep the process alive.
    this.syncTimer.unref();
  }

  /**
   * Write batches start at most once per `flushMs` window: records that arrived meanwhile wait
   * out the rest of it. A full batch, or close(), goes at once.
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
      for (;;) {
        const started = performance.now();
        if (this.pending.length > 0) await this.writeOne();
        const due = this.waitingSync.length > 0 || this.closed || performance.now() - this.lastSync >= this.opts.syncIntervalMs;
        if (this.dirty && due) await this.syncWritten();
        if (this.pending.length === 0) break;
        await this.pause(started);
      }
    } finally {
      this.running = undefined;
    }
    if (this.dirty) this.scheduleSync();
  }

  private async writeOne(): Promise<void> {
    const batch = this.pending.splice(0, this.opts.maxBatch);
    try {
      await this.opts.write(batch.map((e) => e.rec));
    } catch (err) {
      this.fail(batch, err, () => true);
      return;
    }
    this.dirty = true;
    this.settle(batch, (g) => !g.synced);
    for (const e of batch) if (e.group.synced && !e.group.settled) this.waitingSync.push(e);
  }

  private async syncWritten(): Promise<void> {
    const waiting = this.waitingSync.splice(0);
    try {
      await this.opts.sync();
    } catch (err) {
      this.fail(waiting, err, (g) => g.synced);
      return;
    }
    this.dirty = false;
    this.lastSync = performance.now();
    this.settle(waiting, (g) => g.synced);
  }

  /** Counts entries off their groups; a group resolves when its last record is done. */
  private settle(entries: readonly Entry[], which: (g: Group) => boolean): void {
    for (const { group } of entries) {
      if (group.settled || !which(group)) continue;
      group.remaining--;
      if (group.remaining === 0) {
        group.settled = true;
        group.resolve();
      }
    }
  }

  private fail(entries: readonly Entry[], err: unknown, which: (g: Group) => boolean): void {
    for (const { group } of entries) {
      if (group.settled || !which(group)) continue;
      group.settled = true;
      group.reject(err);
    }
    // The rest of a failed group must not be written after a hole.
    this.pending = this.pending.filter((e) => !e.group.settled);
  }
}
