import type pg from 'pg';
import { BatchQueue } from '../audit/batch-queue.js';
import { parseStoredLine, sealRecord } from '../audit/chain.js';
import type { AuditHead } from '../audit/head-file.js';
import type { AuditRecord, StoredAuditRecord } from '../audit/record.js';
import { DEFAULTS } from '../config/defaults.js';
import { BehalfError } from '../errors.js';
import type { AppendOptions, AuditQuery, AuditStore, VerifyResult } from './types.js';
import { importAuditRecords, type ImportResult } from './postgres-import.js';
import { checkoutForWrite, createPostgresPool, describePgError, type PostgresPoolOptions } from './postgres-pool.js';
import { followRecords, queryRecords, readHeadRow, verifyRecords, type ReadContext } from './postgres-read.js';
import { columnsOf } from './postgres-rows.js';
import { auditTables, migrateAuditSchema, type AuditTables } from './postgres-schema.js';
import { parsePostgresUrl, type PostgresLocation } from './postgres-url.js';

/** Options of {@link openPostgresAuditStore}. */
export interface PostgresAuditStoreOptions extends PostgresPoolOptions {
  /** Open for reading only: no migration, no start-up check, `append` rejects. Default false. */
  readonly readOnly?: boolean;
  /** Extra batch window, ms. Default `DEFAULTS.auditFlushMs` (0: the next event-loop turn). */
  readonly flushMs?: number;
  /** Kept for the shared batch queue; PostgreSQL has no separate sync step. Default `DEFAULTS.auditSyncIntervalMs`. */
  readonly syncIntervalMs?: number;
  /** Largest batch (one INSERT, one transaction). Default `DEFAULTS.auditBatchRecords` (256). */
  readonly batchRecords?: number;
  /** Follow poll interval, ms. Default 250. */
  readonly pollMs?: number;
  /** Rows per statement when reading, verifying or importing. Default 1 000. */
  readonly pageSize?: number;
  /** Notices (an idle connection lost, ...). Default: ignored. */
  readonly onWarning?: (message: string) => void;
}

/** Appends take the head row, seal the batch after it, insert it and move the head: one transaction. */
const LOCK_HEAD = (t: AuditTables): string => `BEGIN; SELECT seq::text AS seq, hash FROM ${t.head} WHERE id = 1 FOR UPDATE`;
// One statement for the whole batch (arrays unnested into rows) and the head update: constant
// text, so it is prepared once per connection.
const INSERT_BATCH = (t: AuditTables): string => `
  WITH inserted AS (
    INSERT INTO ${t.records} (seq, time_at, user_id, route, tool, decision, reason, line)
    SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
  )
  UPDATE ${t.head} SET seq = $9, hash = $10 WHERE id = 1`;

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
 * This does NOT stop someone with write access to the tables from changing them: `verify()`
 * detects it (within the limits in verify-chain.ts). It does NOT spool records while the
 * server is unreachable: appends fail, and the pipeline fails closed.
 */
export class PostgresAuditStore implements AuditStore {
  /** Counters for tests and metrics: batches committed, records committed. */
  readonly stats = { batches: 0, records: 0 };
  private readonly queue: BatchQueue;
  private readonly read: ReadContext;
  private closed = false;

  /** @internal use {@link openPostgresAuditStore}. */
  constructor(
    private readonly pool: pg.Pool,
    readonly tables: AuditTables,
    /** The store for messages: `postgres://user@host:port/db schema s` (no password). */
    readonly where: string,
    private readonly opts: PostgresAuditStoreOptions,
  ) {
    this.read = { pool, tables, where, pageSize: opts.pageSize ?? 1_000 };
    this.queue = new BatchQueue({
      flushMs: opts.flushMs ?? DEFAULTS.auditFlushMs,
      syncIntervalMs: opts.syncIntervalMs ?? DEFAULTS.auditSyncIntervalMs,
      maxBatch: opts.batchRecords ?? DEFAULTS.auditBatchRecords,
      write: (records) => this.writeBatch(records),
      sync: async () => {},
    });
  }

  append(records: readonly AuditRecord[], opts: AppendOptions = {}): Promise<void> {
    if (this.opts.readOnly === true) return Promise.reject(new BehalfError('audit-write-failed', `audit store ${this.where} is open read-only`));
    return this.queue.push(records, opts.durability ?? 'synced');
  }

  query(q: AuditQuery): AsyncIterable<StoredAuditRecord> {
    return queryRecords(this.read, q);
  }

  follow(opts: { last: number; signal: AbortSignal }): AsyncIterable<StoredAuditRecord> {
    return followRecords(this.read, { ...opts, pollMs: this.opts.pollMs ?? 250 });
  }

  verify(): Promise<VerifyResult> {
    return verifyRecords(this.read);
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
    await this.queue.close();
    await this.pool.end().catch(() => {});
  }

  private async writeBatch(records: AuditRecord[]): Promise<void> {
    const conn = await checkoutForWrite(this.pool, this.where);
    const { client } = conn;
    let ok = false;
    try {
      const results = (await client.query(LOCK_HEAD(this.tables))) as unknown as pg.QueryResult<{ seq: string; hash: string }>[];
      const head = results[1]?.rows[0];
      if (head === undefined) throw new BehalfError('audit-write-failed', `the head row of the audit store ${this.where} is missing: run behalf audit verify`);
      let seq = Number(head.seq);
      let hash = head.hash;
      const cols: unknown[][] = [[], [], [], [], [], [], [], []];
      for (const rec of records) {
        const sealed = sealRecord(rec, seq, hash);
        const c = columnsOf(rec);
        const row = [sealed.seq, c.time_at, c.user_id, c.route, c.tool, c.decision, c.reason, sealed.line];
        for (let i = 0; i < row.length; i++) cols[i]!.push(row[i]);
        seq = sealed.seq;
        hash = sealed.hash;
      }
      await client.query({ name: 'behalf_audit_insert', text: INSERT_BATCH(this.tables), values: [...cols, seq, hash] });
      await client.query('COMMIT');
      ok = true;
    } catch (err) {
      if (err instanceof BehalfError) throw err;
      throw new BehalfError('audit-write-failed', `audit records could not be written to ${this.where}: ${describePgError(err)}`, { cause: err });
    } finally {
      // A failed connection is closed, not reused: that also ends its transaction and lock.
      conn.done(ok);
    }
    this.stats.batches++;
    this.stats.records += records.length;
  }
}

/**
 * A writer must not extend a chain whose end no longer matches its head row: the same refusal
 * as the file store's (recover-tail.ts), for the same reason (someone cut or replaced records).
 */
async function checkChainEnd(ctx: ReadContext): Promise<void> {
  let row: { seq: string; hash: string; line: string | null; max: string | null } | undefined;
  try {
    const t = ctx.tables;
    const res = await ctx.pool.query<{ seq: string; hash: string; line: string | null; max: string | null }>(
      `SELECT h.seq::text AS seq, h.hash, (SELECT line FROM ${t.records} r WHERE r.seq = h.seq) AS line,
              (SELECT max(seq) FROM ${t.records})::text AS max
         FROM ${t.head} h WHERE h.id = 1`,
    );
    row = res.rows[0];
  } catch (err) {
    throw new BehalfError('audit-write-failed', `cannot read the audit store ${ctx.where}: ${describePgError(err)}`, { cause: err });
  }
  const broken = (why: string): BehalfError => new BehalfError('audit-chain-broken', `audit store ${ctx.where}: ${why}; run behalf audit verify, keep the tables as evidence and use a new schema`);
  if (row === undefined) throw broken('the head row is missing');
  const seq = Number(row.seq);
  const max = row.max === null ? 0 : Number(row.max);
  if (max > seq) throw broken(`the trail holds records after the head (seq ${seq} < ${max})`);
  if (seq === 0) return;
  if (row.line === null) throw broken(`record ${seq}, which the head vouches for, is missing`);
  const last = parseStoredLine(row.line);
  if (typeof last === 'string' || last.hash !== row.hash) throw broken(`record ${seq} is not the one the head vouches for`);
}

/**
 * Open the PostgreSQL audit store at `store` (a `postgres://` URL or a parsed one). A writer
 * creates and migrates the tables (migrations under an advisory lock, so several gateways may
 * start together) and checks that the trail's end matches the head row; a reader only checks
 * that the tables are there. Any number of writers may share one schema.
 *
 * This does NOT verify the whole trail (call `verify()`).
 *
 * @throws BehalfError `config-invalid` (bad URL), `audit-write-failed` (cannot connect or create
 *         the tables), `audit-chain-broken` (the trail's end does not match its head),
 *         `audit-read-failed` (read-only, and the server or the tables are not there).
 */
export async function openPostgresAuditStore(store: string | PostgresLocation, opts: PostgresAuditStoreOptions = {}): Promise<PostgresAuditStore> {
  const loc = typeof store === 'string' ? parsePostgresUrl(store) : store;
  const warn = opts.onWarning ?? (() => {});
  const pool = createPostgresPool(loc, opts, (err) => warn(`audit: an idle PostgreSQL connection to ${loc.display} failed (${describePgError(err)}); a new one is opened on next use`));
  const tables = auditTables(loc.schema);
  const ctx: ReadContext = { pool, tables, where: loc.display, pageSize: opts.pageSize ?? 1_000 };
  try {
    if (opts.readOnly === true) {
      const head = await readHeadRow(ctx).catch((err: unknown) => {
        const sqlState = (err as { cause?: { code?: string } }).cause?.code;
        if (sqlState === '42P01' || sqlState === '3F000') throw new BehalfError('audit-read-failed', `no audit trail in ${loc.display}`, { cause: err });
        throw err;
      });
      if (typeof head === 'string') warn(`audit: ${head} in ${loc.display}`);
    } else {
      await migrateAuditSchema(pool, tables, loc.display);
      await checkChainEnd(ctx);
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return new PostgresAuditStore(pool, tables, loc.display, opts);
}
