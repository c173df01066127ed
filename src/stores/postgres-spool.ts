import type { AuditSpool, SpoolBatch, SpoolEntry } from '../audit/spool-files.js';
import { BehalfError, isBehalfError } from '../errors.js';
import { describePgError } from './postgres-pool.js';
import type { AuditStoreStatus } from './types.js';
import { DEFAULTS } from '../config/defaults.js';

/**
 * Spooling mode of the PostgreSQL audit store: while the server cannot be reached, batches go to
 * the local spool (spool-files.ts) and a shipper moves them to PostgreSQL, in order, when it
 * returns. docs/audit.md, "When PostgreSQL is down", says what an operator sees.
 */

/** What the spooling writer needs from the store. */
export interface SpoolTarget {
  /** The store, for messages (no password). */
  readonly where: string;
  /**
   * Seal and insert `entries` in one transaction. `skipKnown`: leave out entries whose key the
   * trail already holds (a replay); the first attempt of fresh keys does not pay for the lookup.
   */
  insert(entries: readonly SpoolEntry[], skipKnown: boolean): Promise<void>;
  /** Migrations and the chain-end check, for a store that started without its server. */
  prepare(): Promise<void>;
}

/** Options of a {@link SpoolingWriter}. */
export interface SpoolingOptions {
  /** Records per shipping transaction. */
  readonly batchRecords: number;
  /** First retry delay after a failed shipment, ms; doubles up to `retryMaxMs`. Default 250. */
  readonly retryMinMs?: number;
  /** Longest retry delay, ms. Default 5 000 (5 s). */
  readonly retryMaxMs?: number;
  /** Start and drain notices, and why shipping stopped. */
  readonly warn: (message: string) => void;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);
// Admin/crash shutdown, not accepting connections yet, too many connections, statement or idle
// transaction timeout: the transaction did not commit, and waiting may help.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '25P03']);
const CLIENT_FAULTS = new Set(['connection timed out', 'no answer from the server within the query timeout', 'connection lost', 'connection closed']);

/**
 * Did a PostgreSQL operation fail because the server could not be reached or the connection
 * failed (as opposed to a refusal that waiting will not fix)? Follows `cause` chains.
 *
 * This does NOT say whether a COMMIT took effect: a connection lost during COMMIT is
 * "unavailable" with an unknown outcome, which the idempotency keys resolve.
 */
export function isServerUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (isBehalfError(e, 'audit-chain-broken')) return false;
    const { code, errors } = e as { code?: unknown; errors?: unknown };
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code))) return true;
    if (Array.isArray(errors) && errors.some((x) => isServerUnavailable(x))) return true;
    if (!(e instanceof BehalfError) && CLIENT_FAULTS.has(describePgError(e))) return true;
  }
  return false;
}

/**
 * The store's write path with the spool (see the file comment). `write` is called by the batch
 * queue, never concurrently with itself. In direct mode a batch goes to PostgreSQL; a batch that
 * fails because the server is unavailable goes to the spool instead, and so does every later
 * batch, until the shipper has committed everything spooled. The switch back to direct mode
 * happens in the same event-loop turn as the shipper's check that nothing waits, and spool
 * appends are synchronous, so no batch can slip in between: order holds.
 *
 * This does NOT spool batches that failed for another reason (a refusal, a broken chain): they
 * reject as without a spool. It does NOT ship while the chain's end is broken: appends then
 * reject with `audit-chain-broken` and the spool is kept.
 */
export class SpoolingWriter {
  private spooling: boolean;
  private shipping = false;
  private shipper: Promise<void> = Promise.resolve();
  private broken: BehalfError | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private lastFault = '';
  /** The start of this outage was logged (see `write`). */
  private announced: boolean;
  /** The store opened without its server (and said so): its return is logged even with nothing shipped. */
  private outageAtStart: boolean;

  /**
   * @param ready false when the store started without its server: {@link SpoolTarget.prepare}
   *        runs before the first shipment.
   */
  constructor(
    private readonly spool: AuditSpool,
    private readonly target: SpoolTarget,
    private ready: boolean,
    private readonly opts: SpoolingOptions,
  ) {
    this.spooling = !ready || spool.records > 0;
    this.announced = !ready;
    this.outageAtStart = !ready;
    if (spool.records > 0) opts.warn(`audit: ${spool.records} records left in the spool ${spool.dir} by an earlier run; shipping them to ${target.where} before new ones`);
    if (this.spooling) this.startShipper();
  }

  /** Spool depth and mode (see {@link AuditStoreStatus}). */
  status(): AuditStoreStatus {
    return { spooledRecords: this.spool.records, spooledBytes: this.spool.bytes, spooling: this.spooling };
  }

  /** Write one batch: to PostgreSQL, or to the spool (see the class comment). */
  async write(entries: readonly SpoolEntry[]): Promise<void> {
    if (!this.spooling) {
      try {
        await this.target.insert(entries, false);
        return;
      } catch (err) {
        if (!isServerUnavailable(err)) throw err;
        this.spooling = true;
        if (!this.announced) this.opts.warn(`audit: PostgreSQL store ${this.target.where} unavailable (${describeOutage(err)}); spooling records to ${this.spool.dir} until it returns`);
        this.announced = true;
      }
    }
    if (this.broken !== undefined) throw this.broken;
    try {
      this.spool.append(entries);
    } finally {
      // Even when the spool refused the batch: only the shipper switches back to direct mode.
      this.startShipper();
    }
  }

  /** fdatasync spooled records (a no-op when nothing was spooled since the last call). */
  sync(): Promise<void> {
    return this.spool.sync();
  }

  /** Stop shipping (the batch in flight finishes) and close the spool; what waits stays on disk. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.shipper;
    await this.spool.close();
  }

  private startShipper(): void {
    if (this.shipping || this.closed || this.broken !== undefined) return;
    this.shipping = true;
    this.shipper = this.ship();
  }

  private async ship(): Promise<void> {
    const min = this.opts.retryMinMs ?? DEFAULTS.auditSpoolRetryMinMs;
    const max = this.opts.retryMaxMs ?? DEFAULTS.auditSpoolRetryMaxMs;
    let delay = min;
    let shipped = 0;
    while (!this.closed) {
      try {
        if (!this.ready) {
          await this.target.prepare();
          this.ready = true;
        }
        // No await between this check and the switch (see the class comment).
        if (this.spool.records === 0) {
          this.spooling = false;
          this.shipping = false;
          // A spool that refused everything drained nothing: stay quiet, so a broken disk during
          // an outage gives one notice, not two per batch.
          if (shipped > 0 || this.outageAtStart) {
            this.opts.warn(`audit: the spool drained: ${shipped} records shipped to ${this.target.where}; writing directly again`);
            this.announced = false;
            this.outageAtStart = false;
          }
          return;
        }
        let batch: SpoolBatch;
        try {
          batch = await this.spool.readBatch(this.opts.batchRecords);
        } catch (err) {
          // A spool that cannot be read will not get better by waiting for PostgreSQL.
          return this.stop(err instanceof BehalfError ? err : new BehalfError('audit-write-failed', `cannot read the audit spool ${this.spool.dir}`, { cause: err }));
        }
        if (batch.entries.length > 0) {
          await this.target.insert(batch.entries, true);
          this.spool.consume(batch);
          shipped += batch.entries.length;
          delay = min;
          this.lastFault = '';
          continue;
        }
      } catch (err) {
        if (this.closed) break;
        if (isBehalfError(err, 'audit-chain-broken')) return this.stop(err);
        const fault = describeOutage(err);
        if (fault !== this.lastFault) this.opts.warn(`audit: shipping the spool to ${this.target.where} failed (${fault}); retrying`);
        this.lastFault = fault;
      }
      await this.pause(delay);
      delay = Math.min(delay * 2, max);
    }
    this.shipping = false;
  }

  /** Shipping cannot go on without an operator: keep the spool, fail every append loudly. */
  private stop(err: BehalfError): void {
    this.broken = err;
    this.shipping = false;
    this.opts.warn(`audit: shipping the spool ${this.spool.dir} stopped, ${this.spool.records} records kept there; appends fail until an operator acts: ${err.message}`);
  }

  private pause(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}

/**
 * Why PostgreSQL could not be used, for a log line: the driver's data-free description of the
 * innermost cause (`ECONNREFUSED`, `connection lost`), else the BehalfError's own message (safe
 * by construction; never the password).
 */
export function describeOutage(err: unknown): string {
  let inner: unknown = err;
  while (inner instanceof BehalfError && inner.cause !== undefined) inner = inner.cause;
  if (!(inner instanceof BehalfError)) {
    const text = describePgError(inner);
    if (text !== 'error' || !(err instanceof BehalfError)) return text;
  }
  return (err as Error).message;
}
