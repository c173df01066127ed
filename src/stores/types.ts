import type { AuditRecord, StoredAuditRecord } from '../audit/record.js';

/**
 * Narrow, store-neutral interfaces for behalf's state. Every implementation (the embedded file
 * store today, PostgreSQL later) passes the same contract tests.
 */

/**
 * Filters for {@link AuditStore.query}. Every field is optional; set fields are ANDed. String
 * fields match exactly (no prefix or pattern matching).
 */
export interface AuditQuery {
  /** Verified user id (`AuditRecord.user`). */
  user?: string;
  /** Route id (`AuditRecord.route`), not a path. */
  route?: string;
  /** Tool name (`AuditRecord.tool`). */
  tool?: string;
  decision?: 'allow' | 'deny';
  /** Reason code, e.g. `no-matching-rule`. */
  reason?: string;
  /** Inclusive lower bound on `AuditRecord.time`. */
  since?: Date;
  /** Exclusive upper bound on `AuditRecord.time`. */
  until?: Date;
  /**
   * Keep only the newest N matching records (still yielded oldest first). Default: no limit,
   * every matching record, oldest first.
   */
  limit?: number;
}

/** Where and how an audit trail stops being trustworthy. */
export interface VerifyProblem {
  /**
   * The first sequence number that cannot be vouched for: the edited record, the first missing
   * one, the first out of place, or the one after the last record when the tail was cut.
   */
  seq: number;
  kind: 'edited' | 'deleted' | 'reordered' | 'inserted' | 'malformed' | 'truncated';
  /** Store-specific location (the file store: segment file name). */
  file?: string;
  /** 1-based line in `file`. */
  line?: number;
  /** One human sentence; holds no record content beyond sequence numbers and hashes. */
  message: string;
}

/** Outcome of {@link AuditStore.verify}. */
export interface VerifyResult {
  ok: boolean;
  /** Records checked before the first problem (all of them when `ok`). */
  records: number;
  /** First problem found. */
  problem?: VerifyProblem;
  /** Conditions that are not tampering but worth a look (e.g. a write in progress, no head file). */
  warnings?: string[];
}

/** Options of {@link AuditStore.append}. */
export interface AppendOptions {
  /**
   * `synced` (default): resolve once the records would survive a power loss (fsynced, or a
   * committed transaction). `written`: resolve once they would survive a crash of this process
   * (handed to the operating system, or to the database server); the store still syncs them
   * with the batch, without making the caller wait for it.
   */
  durability?: 'written' | 'synced';
}

/** The audit trail's storage. Records are chained (`seq`, `prev`, `hash`) by the store. */
export interface AuditStore {
  /**
   * Append records in order; resolves at the requested durability (default fsynced). Rejects
   * with `BehalfError('audit-write-failed')` if they could not be written.
   */
  append(records: readonly AuditRecord[], opts?: AppendOptions): Promise<void>;
  /** Stream matching records, oldest first (see {@link AuditQuery.limit}). */
  query(q: AuditQuery): AsyncIterable<StoredAuditRecord>;
  /** Recompute the whole chain and report the first problem. Never throws for tampering. */
  verify(): Promise<VerifyResult>;
  /** Follow new records (for `audit tail -f`), from the last `n` records, until `signal` aborts. */
  follow?(opts: { last: number; signal: AbortSignal }): AsyncIterable<StoredAuditRecord>;
  /** Flush pending appends, release the store (and its writer lock). Idempotent. */
  close(): Promise<void>;
}
