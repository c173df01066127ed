import { BehalfError } from '../errors.js';

/**
 * `audit.store` values that name a PostgreSQL database: `postgres://` or `postgresql://` URLs in
 * the libpq form node-postgres reads (`postgres://user:password@host:5432/db?sslmode=require`).
 * behalf reads three parameters itself and passes the rest on:
 * - `schema`: the PostgreSQL schema the audit tables live in (default `public`; created when missing);
 * - `connect_timeout`: seconds to open a connection (libpq's name and unit; default 5);
 * - `statement_timeout`: ms one statement may take (PostgreSQL's name and unit; default 5000).
 */

/** A parsed PostgreSQL store URL. */
export interface PostgresLocation {
  /** The URL without behalf's own parameters, for node-postgres. Holds the password, if any: never log it. */
  readonly connectionString: string;
  /** Schema holding the audit tables: lowercase letters, digits and `_`, at most 63 characters. */
  readonly schema: string;
  /** `postgres://user@host:port/db schema s`: safe to log (no password, no other parameters). */
  readonly display: string;
  /** From `connect_timeout` (seconds in the URL), ms. */
  readonly connectTimeoutMs?: number;
  /** From `statement_timeout`, ms. */
  readonly statementTimeoutMs?: number;
}

const SCHEME_RE = /^postgres(?:ql)?:\/\//i;
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** Does `store` name a PostgreSQL store (by its scheme alone)? */
export function isPostgresUrl(store: string): boolean {
  return SCHEME_RE.test(store);
}

/**
 * Parse a PostgreSQL store URL. The password stays in `connectionString` only; error messages
 * and `display` never hold it.
 *
 * This does NOT contact the server or check that the database, user or schema exist.
 *
 * @throws BehalfError `config-invalid` naming `audit.store` when the URL or the schema name is not valid.
 */
export function parsePostgresUrl(store: string): PostgresLocation {
  if (!isPostgresUrl(store)) throw new BehalfError('config-invalid', 'audit.store: not a postgres:// or postgresql:// URL');
  let url: URL;
  try {
    url = new URL(store);
  } catch (err) {
    throw new BehalfError('config-invalid', 'audit.store: the PostgreSQL URL cannot be parsed', { cause: err });
  }
  const schemas = url.searchParams.getAll('schema');
  if (schemas.length > 1) throw new BehalfError('config-invalid', 'audit.store: "schema" is given more than once');
  const schema = schemas[0] ?? 'public';
  if (!SCHEMA_RE.test(schema)) {
    throw new BehalfError('config-invalid', 'audit.store: schema must be 1 to 63 lowercase letters, digits or "_", starting with a letter or "_"');
  }
  url.searchParams.delete('schema');
  const timeout = (name: string, unitMs: number): number | undefined => {
    const values = url.searchParams.getAll(name);
    url.searchParams.delete(name);
    if (values.length === 0) return undefined;
    const v = values.at(-1)!;
    if (values.length > 1 || !/^\d{1,7}$/.test(v) || Number(v) < 1) throw new BehalfError('config-invalid', `audit.store: ${name} must be a whole number of at least 1, given once`);
    return Number(v) * unitMs;
  };
  const connectTimeoutMs = timeout('connect_timeout', 1_000);
  const statementTimeoutMs = timeout('statement_timeout', 1);
  const db = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const host = url.hostname !== '' ? url.hostname : (url.searchParams.get('host') ?? 'localhost');
  const user = url.username !== '' ? `${decodeURIComponent(url.username)}@` : '';
  const port = url.port !== '' ? `:${url.port}` : '';
  return {
    connectionString: url.toString(),
    schema,
    display: `postgres://${user}${host}${port}/${db} schema ${schema}`,
    ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
    ...(statementTimeoutMs !== undefined ? { statementTimeoutMs } : {}),
  };
}

/** `"name"`: a validated identifier, quoted for SQL. */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new BehalfError('internal', 'not a valid SQL identifier');
  return `"${name}"`;
}
