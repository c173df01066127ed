import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { BatchQueue } from '../audit/batch-queue.js';
import { sealRecord, type SealedRecord } from '../audit/chain.js';
import { tell } from '../audit/written-listener.js';
import type { AuditHead } from '../audit/head-file.js';
import type { AuditRecord, StoredAuditRecord } from '../audit/record.js';
import type { AuditSpool, SpoolEntry } from '../audit/spool-files.js';
import { openAuditSpool } from '../audit/spool-open.js';
import { DEFAULTS } from '../config/defaults.js';
import { BehalfError } from '../errors.js';
import type { AppendOptions, AuditCheckpoints, AuditQuery, AuditStore, AuditStoreStatus, VerifyOptions, VerifyResult, WrittenListener } from './types.js';
import { postgresCheckpoints } from './postgres-checkpoints.js';
import { importAuditRecords, type ImportResult } from './postgres-import.js';
import { checkoutForWrite, createPostgresPool, describePgError, type PostgresPoolOptions } from './postgres-pool.js';
import { followRecords, queryRecords, readHeadRow, verifyRecords, type ReadContext } from './postgres-read.js';
import { columnsOf } from './postgres-rows.js';
import { auditTables, checkChainEnd, migrateAuditSchema, type AuditTables } from './postgres-schema.js';
import { describeOutage, isServerUnavailable, SpoolingWriter } from './postgres-spool.js';
import { parsePostgresUrl, type PostgresLocation } from './postgres-url.js';

/** Options of {@link openPostgresAuditStore}. */
export interface PostgresAuditStoreOptions extends PostgresPoolOptions {
  /** Open for reading only: no migration, no start-up check, `append` rejects. Default false. */
  readonly readOnly?: boolean;
  /** Extra batch window, ms. Default `DEFAULTS.auditFlushMs` (0: the next event-loop turn). */
  readonly flushMs?: number;
  /** Spooled records nobody waits to be synced are fsynced within this time, ms. Default `DEFAULTS.auditSyncIntervalMs`. */
  readonly syncIntervalMs?: number;
  /** Largest batch (one INSERT, one transaction). Default `DEFAULTS.auditBatchRecords` (256). */
  readonly batchRecords?: number;
  /** Follow poll interval, ms. Default 250. */
  readonly pollMs?: number;
  /** Rows per statement when reading, verifying or importing. Default 1 000. */
  readonly pageSize?: number;
  /** Notices (an idle connection lost, spooling started or drained, ...). Default: ignored. */
  readonly onWarning?: (message: string) => void;
  /** Keep records in a local spool while the server is unavailable (postgres-spool.ts). Default: no spool. */
  readonly spool?: PostgresSpoolOptions;
  /** Told of each batch once it is committed, spooled records when shipped (the audit sinks). Default: none. */
  readonly onWritten?: WrittenListener;
}

/** Where and how much a {@link PostgresAuditStoreOptions.spool} holds. */
export interface PostgresSpoolOptions {
  /** This instance's spool directory (absolute, or relative to the working directory). */
  readonly dir: string;
  /** Past this many bytes waiting, appends fail, bytes. */
  readonly maxBytes: number;
  /** Size at which a new spool file starts, bytes. Default 16 MiB. */
  readonly fileBytes?: number;
  /** Shipping retry delays, ms: from `retryMinMs` (default 250) doubling up to `retryMaxMs` (default 5 000). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

/** Appends take the head row, seal the batch after it, insert it and move the head: one transaction. */
const LOCK_HEAD = (t: AuditTables): string => `BEGIN; SELECT seq::text AS seq, hash FROM ${t.head} WHERE id = 1 FOR UPDATE`;
// One statement for the whole batch (arrays unnested into rows) and the head update: constant
// text, so it is prepared once per connection.
const INSERT_BATCH = (t: AuditTables): string => `
  WITH inserted AS (
    INSERT INTO ${t.records} (seq, time_at, user_id, route, tool, decision, reason, line, idempotency_key)
    SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
  )
  UPDATE ${t.head} SET seq = $10, hash = $11 WHERE id = 1`;
const KNOWN_KEYS = (t: AuditTables): string => `SELECT idempotency_key AS key FROM ${t.records} WHERE idempotency_key = ANY($1::text[])`;

/**
 * The audit trail in PostgreSQL: one chain shared by every gateway writing to the same schema.
 * Obtain one with {@link openPostgresAuditStore}; tables and guarantees: postgres-schema.ts and
 * docs/audit.md.
 *
 * Each batch is one transaction: lock the head row (`FOR UPDATE`), seal the records after it
 * with chain.ts (the same hashes the file store computes), insert them in one statement, move
 * the head, commit. Writers on other hosts wait for the lock, so `seq` never forks or skips and
 * commits happen in `seq` order. `written` and `synced` both resolve once that transaction has
 * committed: how durable a commit is follows the server's `synchronous_commit` (default `on`:
 * flushed to the server's WAL). A failed batch rejects its appends with `audit-write-failed`
 * and leaves nothing behind (the transaction rolls back), except when the connection is lost
 * during COMMIT: then the outcome is unknown and the records may be in the trail, correctly
 * chained. No head is cached in memory, so nothing needs recovering after a failure.
 *
 * Every record gets an idempotency key (a random id of this store instance and a counter)
 * before its first write, stored in a unique column outside the hashed line. With a spool
 * (postgres-spool.ts), a batch that fails because the server is unavailable is spooled and
 * shipped later in order; shipping skips keys the trail already holds, so a COMMIT whose outcome
 * was unknown, or a spool replayed after a crash, adds no duplicate.
 *
 * This does NOT stop someone with write access to the tables from changing them: `verify()`
 * detects it (within the limits in verify-chain.ts). Without a spool, appends fail while the
 * server is unreachable, and the pipeline fails closed.
 */
export class PostgresAuditStore implements AuditStore {
  /** Counters for tests and metrics: batches committed, records committed. */
  readonly stats = { batches: 0, records: 0 };
  private readonly queue: BatchQueue;
  private readonly read: ReadContext;
  private readonly spooler: SpoolingWriter | undefined;
  private readonly keyPrefix = randomBytes(9).toString('base64url');
  private keyCounter = 0;
  private closed = false;
  /** Signed checkpoints in `behalf_audit_checkpoints` (postgres-checkpoints.ts). */
  readonly checkpoints: AuditCheckpoints;

  /** @internal use {@link openPostgresAuditStore}. */
  constructor(
    private readonly pool: pg.Pool,
    readonly tables: AuditTables,
    /** The store for messages: `postgres://user@host:port/db schema s` (no password). */
    readonly where: string,
    private readonly opts: PostgresAuditStoreOptions,
    spool?: { readonly open: AuditSpool; readonly ready: boolean },
  ) {
    this.read = { pool, tables, where, pageSize: opts.pageSize ?? DEFAULTS.auditReadPageRows };
    this.checkpoints = postgresCheckpoints(this.read, opts.readOnly === true);
    const batchRecords = opts.batchRecords ?? DEFAULTS.auditBatchRecords;
    if (spool !== undefined) {
      const target = {
        where,
        insert: (entries: readonly SpoolEntry[], skipKnown: boolean) => this.insert(entries, skipKnown),
        prepare: async () => {
          await migrateAuditSchema(pool, tables, where);
          await checkChainEnd(this.read);
        },
      };
      this.spooler = new SpoolingWriter(spool.open, target, spool.ready, {
        batchRecords,
        warn: opts.onWarning ?? (() => {}),
        ...(opts.spool?.retryMinMs !== undefined ? { retryMinMs: opts.spool.retryMinMs } : {}),
        ...(opts.spool?.retryMaxMs !== undefined ? { retryMaxMs: opts.spool.retryMaxMs } : {}),
      });
    }
    this.queue = new BatchQueue({
      flushMs: opts.flushMs ?? DEFAULTS.auditFlushMs,
      syncIntervalMs: opts.syncIntervalMs ?? DEFAULTS.auditSyncIntervalMs,
      maxBatch: batchRecords,
      write: (records) => this.writeBatch(records),
      // Only spooled records need an fsync: a commit is as durable as the server makes it.
      sync: () => this.spooler?.sync() ?? Promise.resolve(),
    });
  }

  append(records: readonly AuditRecord[], opts: AppendOptions = {}): Promise<void> {
    if (this.opts.readOnly === true) return Promise.reject(new BehalfError('audit-write-failed', `audit store ${this.where} is open read-only`));
    return this.queue.push(records, opts.durability ?? 'synced');
  }

  /** Spool depth and mode (all zero and false without a spool). */
  status(): AuditStoreStatus {
    return this.spooler?.status() ?? { spooledRecords: 0, spooledBytes: 0, spooling: false };
  }

  query(q: AuditQuery): AsyncIterable<StoredAuditRecord> {
    return queryRecords(this.read, q);
  }

  follow(opts: { last: number; signal: AbortSignal }): AsyncIterable<StoredAuditRecord> {
    return followRecords(this.read, { ...opts, pollMs: this.opts.pollMs ?? DEFAULTS.auditFollowPollMs });
  }

  verify(opts: VerifyOptions = {}): Promise<VerifyResult> {
    return verifyRecords(this.read, opts);
  }

  /** The newest committed record's seq and hash (seq 0 for an empty trail): the value to anchor elsewhere. */
  async head(): Promise<AuditHead> {
    const head = await readHeadRow(this.read);
    if (typeof head === 'string') throw new BehalfError('audit-chain-broken', `audit store ${this.where}: ${head}`);
    return head;
  }

  /**
   * Add records that were sealed elsewhere (an export, an embedded store), keeping their seq,
   * prev and hash, in one transaction. See postgres-import.ts for what is accepted.
   */
  importRecords(source: AsyncIterable<StoredAuditRecord | string>): Promise<ImportResult> {
    if (this.opts.readOnly === true) return Promise.reject(new BehalfError('audit-write-failed', `audit store ${this.where} is open read-only`));
    return importAuditRecords(this.pool, this.tables, this.where, source, this.read.pageSize);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.queue.close();
      await this.spooler?.close();
    } finally {
      await this.pool.end().catch(() => {});
    }
  }

  private writeBatch(records: AuditRecord[]): Promise<void> {
    const entries = records.map((record) => ({ key: `${this.keyPrefix}.${(this.keyCounter++).toString(36)}`, record }));
    return this.spooler !== undefined ? this.spooler.write(entries) : this.insert(entries, false);
  }

  /** One transaction (see the class comment); `skipKnown` leaves out keys the trail holds. */
  private async insert(entries: readonly SpoolEntry[], skipKnown: boolean): Promise<void> {
    const conn = await checkoutForWrite(this.pool, this.where);
    const { client } = conn;
    let ok = false;
    let records = 0;
    const listener = this.opts.onWritten;
    const sealedRecords: SealedRecord[] | undefined = listener === undefined ? undefined : [];
    let written: readonly SpoolEntry[] = entries;
    try {
      const results = (await client.query(LOCK_HEAD(this.tables))) as unknown as pg.QueryResult<{ seq: string; hash: string }>[];
      const head = results[1]?.rows[0];
      if (head === undefined) throw new BehalfError('audit-write-failed', `the head row of the audit store ${this.where} is missing: run behalf audit verify`);
      let todo = entries;
      if (skipKnown) {
        const known = await client.query<{ key: string }>({ name: 'behalf_audit_known_keys', text: KNOWN_KEYS(this.tables), values: [entries.map((e) => e.key)] });
        const seen = new Set(known.rows.map((r) => r.key));
        todo = entries.filter((e) => !seen.has(e.key));
      }
      written = todo;
      let seq = Number(head.seq);
      let hash = head.hash;
      const cols: unknown[][] = [[], [], [], [], [], [], [], [], []];
      for (const { key, record } of todo) {
        const sealed = sealRecord(record, seq, hash);
        sealedRecords?.push(sealed);
        const c = columnsOf(record);
        const row = [sealed.seq, c.time_at, c.user_id, c.route, c.tool, c.decision, c.reason, sealed.line, key];
        for (let i = 0; i < row.length; i++) cols[i]!.push(row[i]);
        seq = sealed.seq;
        hash = sealed.hash;
      }
      if (todo.length > 0) await client.query({ name: 'behalf_audit_insert', text: INSERT_BATCH(this.tables), values: [...cols, seq, hash] });
      await client.query('COMMIT');
      ok = true;
      records = todo.length;
    } catch (err) {
      if (err instanceof BehalfError) throw err;
      throw new BehalfError('audit-write-failed', `audit records could not be written to ${this.where}: ${describePgError(err)}`, { cause: err });
    } finally {
      // A failed connection is closed, not reused: that also ends its transaction and lock.
      conn.done(ok);
    }
    this.stats.batches++;
    this.stats.records += records;
    if (listener !== undefined && records > 0) tell(listener, written.map((e) => e.record), sealedRecords!);
  }
}

/**
 * Open the PostgreSQL audit store at `store` (a `postgres://` URL or a parsed one). A writer
 * creates and migrates the tables (migrations under an advisory lock, so several gateways may
 * start together) and checks that the trail's end matches the head row; a reader only checks
 * that the tables are there. Any number of writers may share one schema.
 *
 * With `opts.spool`, a writer first takes its spool (one process per spool directory); records
 * an earlier run left there are shipped before any new one. If the server is unavailable at
 * start, the store opens anyway in spooling mode, and migrates and checks the chain's end when
 * the server returns.
 *
 * This does NOT verify the whole trail (call `verify()`).
 *
 * @throws BehalfError `config-invalid` (bad URL), `audit-write-failed` (cannot connect or create
 *         the tables, without a spool; the spool directory cannot be used),
 *         `audit-store-locked` (another process has the spool), `audit-chain-broken` (the
 *         trail's end does not match its head), `audit-read-failed` (read-only, and the server or
 *         the tables are not there).
 */
export async function openPostgresAuditStore(store: string | PostgresLocation, opts: PostgresAuditStoreOptions = {}): Promise<PostgresAuditStore> {
  const loc = typeof store === 'string' ? parsePostgresUrl(store) : store;
  const warn = opts.onWarning ?? (() => {});
  const spoolOpts = opts.readOnly === true ? undefined : opts.spool;
  const spool = spoolOpts === undefined ? undefined : await openAuditSpool(spoolOpts.dir, { maxBytes: spoolOpts.maxBytes, onWarning: warn, ...(spoolOpts.fileBytes !== undefined ? { fileBytes: spoolOpts.fileBytes } : {}) });
  const pool = createPostgresPool(loc, opts, (err) => warn(`audit: an idle PostgreSQL connection to ${loc.display} failed (${describePgError(err)}); a new one is opened on next use`));
  const tables = auditTables(loc.schema);
  const ctx: ReadContext = { pool, tables, where: loc.display, pageSize: opts.pageSize ?? DEFAULTS.auditReadPageRows };
  let ready = true;
  try {
    if (opts.readOnly === true) {
      const head = await readHeadRow(ctx).catch((err: unknown) => {
        const sqlState = (err as { cause?: { code?: string } }).cause?.code;
        if (sqlState === '42P01' || sqlState === '3F000') throw new BehalfError('audit-read-failed', `no audit trail in ${loc.display}`, { cause: err });
        throw err;
      });
      if (typeof head === 'string') warn(`audit: ${head} in ${loc.display}`);
    } else {
      try {
        await migrateAuditSchema(pool, tables, loc.display);
        await checkChainEnd(ctx);
      } catch (err) {
        if (spool === undefined || !isServerUnavailable(err)) throw err;
        ready = false;
        warn(`audit: PostgreSQL store ${loc.display} unavailable at start (${describeOutage(err)}); spooling records to ${spool.dir} until it returns`);
      }
    }
  } catch (err) {
    await pool.end().catch(() => {});
    await spool?.close();
    throw err;
  }
  return new PostgresAuditStore(pool, tables, loc.display, opts, spool === undefined ? undefined : { open: spool, ready });
}
