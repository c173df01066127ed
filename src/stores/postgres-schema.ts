import type pg from 'pg';
import { parseStoredLine } from '../audit/chain.js';
import { BehalfError } from '../errors.js';
import { checkoutForWrite, describePgError } from './postgres-pool.js';
import { quoteIdent } from './postgres-url.js';

/** What the readers need. */
export interface ReadContext {
  readonly pool: pg.Pool;
  readonly tables: AuditTables;
  /** Safe description of the store for messages (no password). */
  readonly where: string;
  /** Rows per statement. */
  readonly pageSize: number;
}

/**
 * The PostgreSQL audit schema and its migrations. Tables (in the store's schema):
 * - `behalf_audit_records`: one row per record. `line` is the record exactly as the file store
 *   writes it (canonical JSON with `hash` last), so hashes, exports and imports agree byte for
 *   byte; the other columns are copies of record fields for the indexes `behalf audit query`
 *   uses, and `verify()` checks that they still match `line`. `idempotency_key` (unique, not
 *   hashed) lets a writer ship a record again without duplicating it.
 * - `behalf_audit_head`: one row, the newest record's `seq` and `hash`. Writers lock it
 *   (`FOR UPDATE`) to take the next `seq`, so several gateways extend one chain; `verify()`
 *   uses it as the file store uses `head.json`, to notice records cut off the end.
 * - `behalf_audit_checkpoints`: signed checkpoints of the chain head (audit/checkpoint-format.ts),
 *   one row each, in the order they were stored (`id`); `jws` is the only column verification
 *   trusts, the others are copies for reading.
 * - `behalf_audit_schema_version`: applied migrations.
 */

/** Schema-qualified, quoted table names of one audit store. */
export interface AuditTables {
  readonly schema: string;
  readonly records: string;
  readonly head: string;
  readonly checkpoints: string;
  readonly version: string;
}

/** Table names for the audit store in `schema` (validated, quoted). */
export function auditTables(schema: string): AuditTables {
  const s = quoteIdent(schema);
  return {
    schema,
    records: `${s}.behalf_audit_records`,
    head: `${s}.behalf_audit_head`,
    checkpoints: `${s}.behalf_audit_checkpoints`,
    version: `${s}.behalf_audit_schema_version`,
  };
}

/**
 * Migrations, applied in order, each in its own transaction; index `i` brings the schema to
 * version `i + 1`. Never edit a released one: append.
 */
const MIGRATIONS: readonly ((t: AuditTables) => string)[] = [
  (t) => `
    CREATE TABLE ${t.records} (
      seq      bigint PRIMARY KEY CHECK (seq > 0),
      time_at  timestamptz,
      user_id  text,
      route    text,
      tool     text,
      decision text,
      reason   text,
      line     text NOT NULL
    );
    CREATE INDEX behalf_audit_records_user ON ${t.records} (user_id, seq);
    CREATE INDEX behalf_audit_records_route ON ${t.records} (route, seq);
    CREATE INDEX behalf_audit_records_tool ON ${t.records} (tool, seq);
    CREATE INDEX behalf_audit_records_reason ON ${t.records} (reason, seq);
    CREATE INDEX behalf_audit_records_deny ON ${t.records} (seq) WHERE decision = 'deny';
    CREATE INDEX behalf_audit_records_time ON ${t.records} (time_at);
    CREATE TABLE ${t.head} (
      id   smallint PRIMARY KEY CHECK (id = 1),
      seq  bigint NOT NULL CHECK (seq >= 0),
      hash text NOT NULL
    );
    INSERT INTO ${t.head} (id, seq, hash) VALUES (1, 0, '');
  `,
  // Idempotency keys (see PostgresAuditStore): outside `line`, so the chain format is unchanged;
  // NULL for rows written before, or imported.
  (t) => `
    ALTER TABLE ${t.records} ADD COLUMN idempotency_key text;
    CREATE UNIQUE INDEX behalf_audit_records_idempotency_key ON ${t.records} (idempotency_key);
  `,
  // Signed checkpoints: a table beside the records, so the chain format is unchanged.
  (t) => `
    CREATE TABLE ${t.checkpoints} (
      id      bigserial PRIMARY KEY,
      seq     bigint NOT NULL CHECK (seq > 0),
      time_at timestamptz NOT NULL,
      kid     text NOT NULL,
      jws     text NOT NULL
    );
  `,
];

/** The schema version this code writes. */
export const AUDIT_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Create the schema and tables when missing and apply pending migrations. Runs under a
 * session advisory lock keyed by the schema name, so gateways starting together take turns
 * instead of racing on `CREATE TABLE`; applying is idempotent (a migration already recorded is
 * skipped).
 *
 * This does NOT check the trail itself (see `PostgresAuditStore` start-up checks), and does NOT
 * downgrade: a schema newer than this code is refused.
 *
 * @throws BehalfError `audit-write-failed` when the server cannot be reached or refuses a statement.
 */
export async function migrateAuditSchema(pool: pg.Pool, t: AuditTables, where: string): Promise<{ from: number; to: number }> {
  const conn = await checkoutForWrite(pool, where);
  const { client } = conn;
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`behalf-audit-migrate:${t.schema}`]);
    try {
      // Existence is checked before creating anything: CREATE ... IF NOT EXISTS still needs the
      // CREATE privilege, which a gateway's role should not have once the tables exist.
      const exists = await client.query<{ schema: boolean; version: string | null }>(
        'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema, to_regclass($2)::text AS version',
        [t.schema, t.version],
      );
      if (exists.rows[0]?.schema !== true) await client.query(`CREATE SCHEMA ${quoteIdent(t.schema)}`);
      if (exists.rows[0]?.version == null) {
        await client.query(`CREATE TABLE IF NOT EXISTS ${t.version} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      }
      const res = await client.query<{ v: number }>(`SELECT coalesce(max(version), 0)::int AS v FROM ${t.version}`);
      const from = res.rows[0]?.v ?? 0;
      if (from > AUDIT_SCHEMA_VERSION) {
        throw new BehalfError('audit-write-failed', `the audit store ${where} has schema version ${from}, newer than this behalf (${AUDIT_SCHEMA_VERSION}): upgrade behalf`);
      }
      for (let v = from + 1; v <= AUDIT_SCHEMA_VERSION; v++) {
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[v - 1]!(t));
          await client.query(`INSERT INTO ${t.version} (version) VALUES ($1)`, [v]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
      }
      return { from, to: AUDIT_SCHEMA_VERSION };
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`behalf-audit-migrate:${t.schema}`]).catch(() => {
        broken = true;
      });
    }
  } catch (err) {
    broken = true;
    if (err instanceof BehalfError) throw err;
    throw new BehalfError('audit-write-failed', `cannot prepare the audit tables in ${where}: ${describePgError(err)}`, { cause: err });
  } finally {
    // A connection that failed mid-way may still hold the lock: closing it releases the lock.
    conn.done(!broken);
  }
}

/**
 * A writer must not extend a chain whose end no longer matches its head row: the same refusal
 * as the file store's (recover-tail.ts), for the same reason (someone cut or replaced records).
 *
 * This does NOT verify the trail before the end (`verify()` does).
 *
 * @throws BehalfError `audit-chain-broken`, `audit-write-failed` (the server cannot be read).
 */
export async function checkChainEnd(ctx: ReadContext): Promise<void> {
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
