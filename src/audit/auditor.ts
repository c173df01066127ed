import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AuditConfig } from '../config/schema.js';
import { BehalfError, isBehalfError } from '../errors.js';
import type { AppendOptions, AuditStore, WrittenListener } from '../stores/types.js';
import { openFileAuditStore } from './file-store.js';
import type { Checkpointer } from './checkpointer.js';
import type { AuditRecord } from './record.js';
import { resolveAuditDir } from './store-location.js';
import { isPostgresUrl, parsePostgresUrl, type PostgresLocation } from '../stores/postgres-url.js';

/** The pipeline's handle on the audit trail. */
export interface Auditor {
  /**
   * Append one record; resolves at the requested durability (default `synced`: fsynced with its
   * batch; `written`: safe from a crash of this process, synced with the batch without waiting).
   * Rejects with `BehalfError('audit-write-failed')` when it could not be written: the caller
   * fails closed. Cheap to call: hashing and I/O happen in the store's batch flush.
   */
  record(rec: AuditRecord, opts?: AppendOptions): Promise<void>;
  /** False after the last write failed; true again after the next one succeeds. Starts true. */
  readonly healthy: boolean;
  /** Flush pending records and close the store. */
  close(): Promise<void>;
}

/** Options of {@link createAuditor}. */
export interface AuditorOptions {
  /** Failures are logged at `error` with the error code and request id (never the record). */
  logger?: Logger;
  /** Alarm hook, called once per failed record (the gateway counts these in a metric). */
  onFailure?: (err: Error) => void;
  /** Called when a record is written again after a failure (the gateway clears the alarm). */
  onRecovery?: () => void;
  /** Told of every written record; closed (a last checkpoint) before the store. */
  checkpointer?: Checkpointer;
}

/**
 * Wrap a store for the pipeline: tracks health, logs and signals failures.
 *
 * This does NOT decide what to do when a record cannot be written (fail closed for writes,
 * `audit.onFailureForReads` for reads): the pipeline does, from the rejection.
 */
export function createAuditor(store: AuditStore, opts: AuditorOptions = {}): Auditor {
  let healthy = true;
  const failed = (rec: AuditRecord, err: unknown): never => {
    healthy = false;
    const e = isBehalfError(err) ? err : new BehalfError('audit-write-failed', 'the audit record could not be written', { cause: err });
    opts.logger?.error({ code: e.code, requestId: rec.requestId, detail: e.message }, 'audit record could not be written');
    try {
      opts.onFailure?.(e);
    } catch {
      // an alarm hook must not turn one failure into two
    }
    throw e;
  };
  return {
    get healthy() {
      return healthy;
    },
    record(rec, appendOptions) {
      return store.append([rec], appendOptions).then(
        () => {
          opts.checkpointer?.noted();
          if (!healthy) {
            healthy = true;
            opts.onRecovery?.();
          }
        },
        (err: unknown) => failed(rec, err),
      );
    },
    async close() {
      // The last checkpoint needs the store open; a failure is logged by the checkpointer.
      await opts.checkpointer?.close();
      await store.close();
    },
  };
}

/** Options of {@link openAuditStore}. */
export interface OpenAuditStoreOptions {
  /** Folder relative store paths are resolved against (the config file's folder). */
  baseDir: string;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Recovery notices (e.g. a torn final line removed after a crash) go here at `warn`. */
  logger?: Logger;
  /**
   * Open for reading only (query, verify, follow): no writer lock, so it works next to a running
   * gateway; `append` rejects. Default false.
   */
  readOnly?: boolean;
  /** Told of each batch once it is in the trail (the audit sinks, sinks.ts). Writers only. */
  onWritten?: WrittenListener;
}

/** Where `audit.store` points: an embedded store's directory, or a PostgreSQL database. */
export type AuditStoreLocation = { readonly kind: 'file'; readonly dir: string } | { readonly kind: 'postgres'; readonly location: PostgresLocation };

/**
 * Parse `audit.store` without touching the disk or the network: `postgres://` and
 * `postgresql://` URLs name a PostgreSQL store (postgres-url.ts); a directory path, `file:<dir>`
 * or a `file://` URL names the embedded store (store-location.ts).
 *
 * This does NOT check that the directory or the database can be opened.
 *
 * @throws BehalfError `config-invalid`.
 */
export function auditStoreLocation(store: string, baseDir: string): AuditStoreLocation {
  if (isPostgresUrl(store)) return { kind: 'postgres', location: parsePostgresUrl(store) };
  return { kind: 'file', dir: resolveAuditDir(store, baseDir) };
}

/**
 * Open the audit store named by `cfg.store` (see {@link auditStoreLocation}).
 *
 * The embedded store: a writer takes the directory's single-writer lock, so a second writer on
 * the same directory (even in the same process) fails with `audit-store-locked`; readers pass
 * `readOnly: true`. PostgreSQL: any number of writers share one chain; a writer creates and
 * migrates the tables, a reader needs them to exist. A PostgreSQL writer with `cfg.spool.enabled`
 * keeps records in `cfg.spool.dir` (relative to `baseDir`) while the server is unavailable.
 *
 * This does NOT verify the existing trail; run `behalf audit verify` for that.
 *
 * @throws BehalfError `config-invalid`, `audit-store-locked`, `audit-chain-broken`,
 *         `audit-write-failed`, `audit-read-failed` (read-only and nothing to read).
 */
export async function openAuditStore(cfg: Pick<AuditConfig, 'store'> & Partial<Pick<AuditConfig, 'flushMs' | 'syncIntervalMs' | 'spool'>>, opts: OpenAuditStoreOptions): Promise<AuditStore> {
  const where = auditStoreLocation(cfg.store, opts.baseDir);
  const logger = opts.logger;
  const common = {
    readOnly: opts.readOnly === true,
    ...(cfg.flushMs !== undefined ? { flushMs: cfg.flushMs } : {}),
    ...(cfg.syncIntervalMs !== undefined ? { syncIntervalMs: cfg.syncIntervalMs } : {}),
    ...(logger !== undefined ? { onWarning: (message: string) => logger.warn(message) } : {}),
    ...(opts.onWritten !== undefined && opts.readOnly !== true ? { onWritten: opts.onWritten } : {}),
  };
  if (where.kind === 'postgres') {
    // Loaded on demand: a gateway on the embedded store never loads the database driver.
    const { openPostgresAuditStore } = await import('../stores/postgres-audit-store.js');
    const spool = cfg.spool?.enabled === true && !common.readOnly ? { dir: resolve(opts.baseDir, cfg.spool.dir), maxBytes: cfg.spool.maxBytes } : undefined;
    return openPostgresAuditStore(where.location, { ...common, ...(spool !== undefined ? { spool } : {}) });
  }
  return openFileAuditStore(where.dir, { ...common, ...(opts.now !== undefined ? { now: opts.now } : {}) });
}
