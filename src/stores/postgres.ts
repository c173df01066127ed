/**
 * PostgreSQL stores (the `behalf/stores/postgres` entry): the shared audit trail for gateways
 * that run as several instances. Loaded only when `audit.store` is a `postgres://` URL, so the
 * embedded store needs no database driver at run time.
 */
export { openPostgresAuditStore, PostgresAuditStore, type PostgresAuditStoreOptions } from './postgres-audit-store.js';
export type { ImportResult } from './postgres-import.js';
export { POSTGRES_DEFAULTS, type PostgresPoolOptions } from './postgres-pool.js';
export { AUDIT_SCHEMA_VERSION } from './postgres-schema.js';
export { isPostgresUrl, parsePostgresUrl, type PostgresLocation } from './postgres-url.js';
