import type { SealedRecord } from './chain.js';
import type { AuditRecord } from './record.js';

/**
 * The delivery loop every audit sink shares: a bounded queue that never blocks the caller, batches
 * sent one request at a time (so a receiver sees records in `seq` order, apart from retries),
 * retries with exponential backoff and jitter (or the receiver's Retry-After), and a bounded drain
 * on close. What a sink sends and how is its own `send`.
 */

/** One record as a sink receives it: the record, and how it was sealed (`seq`, `hash`, the stored line). */
export interface SinkItem {
  readonly record: AuditRecord;
  readonly sealed: SealedRecord;
}

/** What one attempt to send a batch came to. */
export type SendOutcome =
  | { readonly ok: true }
  /** `retry`: the batch is sent again later (network error, timeout, 408, 429, 5xx); else it is dropped. */
  | { readonly ok: false; readonly retry: boolean; readonly reason: string; readonly retryAfterMs?: number };

/** How a {@link SinkPump} batches and retries. */
export interface SinkPumpOptions<T> {
  /** Most items per `send`. */
  readonly batchMaxRecords: number;
  /** A batch that is not full goes this long after it could have, ms. */
  readonly flushMs: number;
  /** Items waiting, at most; past it the oldest waiting are dropped and counted. */
  readonly maxQueue: number;
  /** First wait before a failed batch is sent again, ms; doubled per attempt up to `retryMaxMs`. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /** The most of a Retry-After that is honoured, ms. */
  readonly retryAfterMaxMs: number;
  /** Sends one batch; `signal` aborts it (on close, past the drain deadline). Must not throw (a throw counts as a retryable failure). */
  readonly send: (batch: readonly T[], signal: AbortSignal) => Promise<SendOutcome>;
  /** Told when sending starts failing (with the reason) and when it works again (`undefined`), and of drops. */
  readonly onFailing?: (reason: string | undefined) => void;
  readonly onDropped?: (count: number, why: 'queue-full' | 'refused' | 'shutdown') => void;
  /** Random number in [0, 1) for jitter. Default `Math.random`. */
  readonly random?: () => number;
}

/** What a sink reports for metrics and `/readyz`. */
export interface SinkStatus {
  /** Items waiting, plus the batch being sent. */
  readonly queued: number;
  /** Items dropped since start: the queue was full, the receiver refused them for good, or the drain ran out of time. */
  readonly dropped: number;
  /** Items the receiver accepted since start. */
  readonly sent: number;
  /** Why the last attempt failed, while sending fails; `undefined` when the last one worked. */
  readonly failing: string | undefined;
}

/** A queue of at most `capacity` items that drops the oldest: O(1) push and take, no shifting. */
class DropOldestQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  size = 0;

  constructor(private readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  /** Adds `item`; returns true when the oldest item was dropped to make room. */
  push(item: T): boolean {
    if (this.size === this.capacity) {
      this.items[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      return true;
    }
    this.items[(this.head + this.size) % this.capacity] = item;
    this.size++;
    return false;
  }

  take(n: number): T[] {
    const out: T[] = [];
    const count = Math.min(n, this.size);
    for (let i = 0; i < count; i++) {
      out.push(this.items[this.head] as T);
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
    }
    this.size -= count;
    return out;
  }
}

/** See the file comment. */
export class SinkPump<T> {
  private readonly queue: DropOldestQueue<T>;
  private readonly random: () => number;
  private inFlight = 0;
  private dropped = 0;
  private sent = 0;
  private failing: string | undefined;
  private running: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private deadline = Infinity;
  /** The drain ran out of time: nothing more is sent. */
  private abandoned = false;
  /** Aborts the request in flight once the drain deadline passes. */
  private readonly abort = new AbortController();
  /** Ends a backoff wait early (close). */
  private wake: (() => void) | undefined;

  constructor(private readonly opts: SinkPumpOptions<T>) {
    this.queue = new DropOldestQueue<T>(opts.maxQueue);
    this.random = opts.random ?? Math.random;
  }

  /** Queues `item`. O(1), never blocks, never throws; after close it is ignored. */
  offer(item: T): void {
    if (this.closing) return;
    if (this.queue.push(item)) {
      this.dropped++;
      this.opts.onDropped?.(1, 'queue-full');
    }
    if (this.running !== undefined) return;
    if (this.queue.size >= this.opts.batchMaxRecords) this.start();
    else this.flushTimer ??= setTimeout(() => this.start(), this.opts.flushMs).unref();
  }

  status(): SinkStatus {
    return { queued: this.queue.size + this.inFlight, dropped: this.dropped, sent: this.sent, failing: this.failing };
  }

  /**
   * Sends what is queued for at most `drainMs`, then gives up: the request in flight is aborted
   * and what is left is counted as dropped. Items offered after this are ignored.
   */
  async close(drainMs: number): Promise<void> {
    this.closing = true;
    this.deadline = Date.now() + drainMs;
    const timer = setTimeout(() => this.abort.abort(new Error('audit sink drain timed out')), drainMs);
    this.wake?.();
    try {
      if (this.queue.size > 0) this.start();
      await this.running;
    } finally {
      clearTimeout(timer);
    }
    const left = this.queue.size + this.inFlight;
    if (left > 0) {
      this.queue.take(this.queue.size);
      this.inFlight = 0;
      this.dropped += left;
      this.opts.onDropped?.(left, 'shutdown');
    }
  }

  private start(): void {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    this.running ??= this.run().finally(() => {
      this.running = undefined;
      // Items that came while the last batch was out wait out a flush interval, unless a batch is full.
      if (!this.closing && this.queue.size > 0) {
        if (this.queue.size >= this.opts.batchMaxRecords) this.start();
        else this.flushTimer ??= setTimeout(() => this.start(), this.opts.flushMs).unref();
      }
    });
  }

  /** Sends the first batch, then full batches back to back (every batch while draining). */
  private async run(): Promise<void> {
    while (this.queue.size > 0 && !this.abandoned) {
      const batch = this.queue.take(this.opts.batchMaxRecords);
      this.inFlight = batch.length;
      await this.deliver(batch);
      // An abandoned batch stays counted as in flight: close() counts it as dropped.
      if (this.abandoned) return;
      this.inFlight = 0;
      if (!this.closing && this.queue.size < this.opts.batchMaxRecords) return;
    }
  }

  /** Sends `batch` until it is accepted, refused for good, or the drain runs out. */
  private async deliver(batch: readonly T[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let outcome: SendOutcome;
      try {
        outcome = await this.opts.send(batch, this.abort.signal);
      } catch (err) {
        outcome = { ok: false, retry: true, reason: err instanceof Error ? err.message : 'send failed' };
      }
      if (outcome.ok) {
        this.sent += batch.length;
        if (this.failing !== undefined) {
          this.failing = undefined;
          this.opts.onFailing?.(undefined);
        }
        return;
      }
      if (this.failing === undefined) this.opts.onFailing?.(outcome.reason);
      this.failing = outcome.reason;
      if (!outcome.retry) {
        this.dropped += batch.length;
        this.opts.onDropped?.(batch.length, 'refused');
        return;
      }
      const wait = this.backoff(attempt, outcome.retryAfterMs);
      if (this.abort.signal.aborted || Date.now() + wait > this.deadline) {
        // Draining, and no time for another attempt: close() counts what is left as dropped.
        this.abandoned = true;
        return;
      }
      await this.waitFor(wait);
    }
  }

  /** Exponential backoff with equal jitter (half fixed, half random), or the receiver's Retry-After when longer. */
  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const base = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(attempt, 30));
    const jittered = base / 2 + this.random() * (base / 2);
    return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, this.opts.retryAfterMaxMs));
  }

  private waitFor(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const onAbort = (): void => done();
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.abort.signal.removeEventListener('abort', onAbort);
        self.wake = undefined;
        resolve();
      }
      // close() ends a long wait at once; the loop then retries within the drain deadline.
      this.wake = done;
    });
  }
}
