import pg from 'pg';
import { BehalfError } from '../errors.js';
import type { PostgresLocation } from './postgres-url.js';
import { DEFAULTS } from '../config/defaults.js';

/**
 * Connections to PostgreSQL for behalf's stores, with every wait bounded: a server that is down,
 * unreachable or stuck makes a call fail within a few seconds instead of hanging a request.
 */

/** Timeouts and size of a {@link createPostgresPool} pool. */
export interface PostgresPoolOptions {
  /** Opening a connection, or waiting for a free one, ms. Default 5 000 (5 s). */
  readonly connectTimeoutMs?: number;
  /**
   * Longest one statement may run, ms (PostgreSQL `statement_timeout`, including lock waits).
   * The client also gives up 1 s after it when the server does not answer at all. A transaction
   * left idle this long is ended by the server (`idle_in_transaction_session_timeout`), so a
   * frozen writer cannot hold the chain head. Default 5 000 (5 s).
   */
  readonly statementTimeoutMs?: number;
  /** Most connections the pool opens. Default 2 (appends use one at a time). */
  readonly maxConnections?: number;
}

/** Defaults of {@link PostgresPoolOptions}, ms. */
export const POSTGRES_DEFAULTS = {
  connectTimeoutMs: DEFAULTS.postgresConnectTimeoutMs,
  statementTimeoutMs: DEFAULTS.postgresStatementTimeoutMs,
  maxConnections: DEFAULTS.postgresMaxConnections,
  idleTimeoutMs: DEFAULTS.postgresIdleTimeoutMs,
} as const;

/**
 * A node-postgres pool for `loc`. Timeouts come from `opts`, else from the URL
 * (`connect_timeout`, `statement_timeout`), else {@link POSTGRES_DEFAULTS}. Other URL parameters
 * (`sslmode`, `application_name`, ...) go to node-postgres as they are; `PG*` environment
 * variables fill in what the URL leaves out (node-postgres reads them, not behalf).
 * `onIdleError` receives errors of idle connections (a server restart): without a listener
 * they would crash the process.
 *
 * This does NOT connect: the first query does.
 */
export function createPostgresPool(loc: PostgresLocation, opts: PostgresPoolOptions, onIdleError: (err: Error) => void): pg.Pool {
  const statementTimeoutMs = opts.statementTimeoutMs ?? loc.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs;
  const pool = new pg.Pool({
    connectionString: loc.connectionString,
    max: opts.maxConnections ?? POSTGRES_DEFAULTS.maxConnections,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? loc.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
    idleTimeoutMillis: POSTGRES_DEFAULTS.idleTimeoutMs,
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 1_000,
    application_name: 'behalf',
    keepAlive: true,
  });
  pool.on('error', onIdleError);
  return pool;
}

/** A connection taken from a pool for a transaction; give it back with `done`. */
export interface Checkout {
  readonly client: pg.PoolClient;
  /** Return the connection; `ok: false` closes it instead (ending its transaction and session locks). */
  done(ok: boolean): void;
}

/**
 * {@link checkout} for a write to the audit store at `where`: a connection that cannot be had
 * is `audit-write-failed` (fail closed), with the server's error but never the password.
 */
export async function checkoutForWrite(pool: pg.Pool, where: string): Promise<Checkout> {
  try {
    return await checkout(pool);
  } catch (err) {
    throw new BehalfError('audit-write-failed', `cannot connect to the audit store ${where}: ${describePgError(err)}`, { cause: err });
  }
}

/**
 * Take a connection for a transaction. While it is out of the pool, a connection that dies
 * emits `error` with nobody listening (the pool only listens to idle ones), which would crash
 * the process: this listens and drops it, since the failing query reports the same fault.
 */
export async function checkout(pool: pg.Pool): Promise<Checkout> {
  const client = await pool.connect();
  const ignore = (): void => {};
  client.on('error', ignore);
  return {
    client,
    done(ok) {
      client.off('error', ignore);
      client.release(ok ? undefined : true);
    },
  };
}

const SQLSTATE: Record<string, string> = {
  '08000': 'connection exception',
  '08001': 'cannot connect',
  '08003': 'connection does not exist',
  '08006': 'connection failure',
  '23505': 'unique violation',
  '25P03': 'idle in transaction timeout',
  '28000': 'authorization failed',
  '28P01': 'password authentication failed',
  '3D000': 'database does not exist',
  '3F000': 'schema does not exist',
  '40001': 'serialization failure',
  '40P01': 'deadlock detected',
  '42501': 'insufficient privilege',
  '42P01': 'table does not exist',
  '53300': 'too many connections',
  '55P03': 'lock not available',
  '57014': 'statement timeout',
  '57P01': 'server shutting down',
  '57P03': 'server not accepting connections yet',
};

/** node-postgres' own messages that carry no data, mapped to words for operators. */
const CLIENT_MESSAGES: Record<string, string> = {
  'timeout expired': 'connection timed out',
  'timeout exceeded when trying to connect': 'connection timed out',
  'Query read timeout': 'no answer from the server within the query timeout',
  'Connection terminated unexpectedly': 'connection lost',
  'Connection terminated': 'connection closed',
  'Connection terminated due to connection timeout': 'connection timed out',
  'Client has encountered a connection error and is not queryable': 'connection lost',
};

/**
 * A short, data-free description of a node-postgres failure: a Node error code (`ECONNREFUSED`),
 * a SQLSTATE with its name, or one of node-postgres' fixed messages. Server messages are NOT
 * passed on: some quote values from the statement (a record's fields).
 */
export function describePgError(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(e.code)) return `${SQLSTATE[e.code] ?? 'server error'} (SQLSTATE ${e.code})`;
    if (/^E[A-Z0-9_]+$/.test(e.code)) return e.code;
  }
  // A connection to a name with several addresses fails with an AggregateError of each attempt.
  if (Array.isArray(e.errors) && e.errors.length > 0) return describePgError(e.errors[0]);
  if (typeof e.message === 'string' && CLIENT_MESSAGES[e.message] !== undefined) return CLIENT_MESSAGES[e.message]!;
  return 'error';
}
