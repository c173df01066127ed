import type { SealedRecord } from '../audit/chain.js';
import type { StoredCheckpoint } from '../audit/checkpoint-format.js';
import type { AuditHead } from '../audit/head-file.js';
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
  /** Request id (`AuditRecord.requestId`, the `X-Request-Id` the client got). */
  requestId?: string;
  /** Acting client id (`AuditRecord.client`). */
  client?: string;
  /** Door (`AuditRecord.door`): `http`, `mcp`, ... */
  door?: string;
  /** MCP session as the record names it (`AuditRecord.session`, `sha256:<16 hex>`). */
  session?: string;
  /** Tool source or upstream id (`AuditRecord.upstream`). */
  upstream?: string;
  /**
   * Kept arguments or query parameters (`AuditRecord.args` / `query`): each name must hold this
   * value (a number or boolean as its JSON text; a list when one of its items does). A value
   * the record keeps as a credential digest matches the text whose digest it is.
   */
  args?: Readonly<Record<string, string>>;
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
  /**
   * Trail: `edited` ... `truncated` (verify-chain.ts). Checkpoints (verify-checkpoints.ts):
   * `forged` (a stored checkpoint whose signature, `typ` or payload does not verify against the
   * gateway's keys), `unanchored` (more records after the newest verified checkpoint than the
   * gateway leaves uncovered: checkpoints were removed, or could not be written).
   */
  kind: 'edited' | 'deleted' | 'reordered' | 'inserted' | 'malformed' | 'truncated' | 'forged' | 'unanchored';
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
  /**
   * Changes whose intent record has no outcome after it (the gateway stopped, or the trail
   * failed, while the request was at the backend: it may have acted), oldest first, at most
   * {@link MAX_LISTED_OPEN_INTENTS}; `openIntentCount` counts them all. Absent when there are
   * none. On a trail still being written, the newest may just be in flight.
   */
  openIntents?: OpenIntent[];
  openIntentCount?: number;
  /** What the signed checkpoints vouch for (verify-checkpoints.ts); absent when not looked at. */
  checkpoints?: CheckpointReport;
}

/** The signed checkpoints' part of a {@link VerifyResult}. */
export interface CheckpointReport {
  /** False when no keys were given: signatures were not checked and nothing is anchored. */
  checked: boolean;
  /** Checkpoints stored. */
  stored: number;
  /** Checkpoints whose signature verified (and whose record matched, when `ok`). */
  verified: number;
  /** Checkpoints signed by a key not in the key set (retired and dropped since): not used. */
  unknownKey: number;
  /** Their key ids (at most 10). */
  unknownKids?: string[];
  /** The newest verified checkpoint: every record up to its seq is vouched for. */
  newest?: { seq: number; time: string; kid: string };
  /** Records after the newest verified checkpoint (all of them when there is none): not covered. */
  uncovered: number;
}

/** A hash vouched for from outside the store, and how to name its source in messages. */
export interface ChainAnchor {
  readonly hash: string;
  /** E.g. `the checkpoint signed at 2026-12-06T10:00:00.000Z (checkpoints.jsonl:3)`. */
  readonly name: string;
}

/** Options of {@link AuditStore.verify}. */
export interface VerifyOptions {
  /** Hashes vouched for by verified checkpoints, by seq (verify-checkpoints.ts builds them). */
  anchors?: ReadonlyMap<number, readonly ChainAnchor[]>;
}

/** One item of a store's checkpoint list: the JWS, or why the stored item is not one. */
export type CheckpointItem = { readonly jws: string; readonly where: string; readonly seq?: number } | { readonly problem: string; readonly where: string; readonly torn?: boolean };

/**
 * Signed checkpoints kept next to the trail (audit/checkpoint-format.ts): a file beside the
 * segments, or a table beside the records.
 */
export interface AuditCheckpoints {
  /**
   * The newest durable record's seq and hash (`{ seq: 0, hash: '' }` for an empty trail). With
   * `settle`, first waits (up to 1 s) for records already written to become durable: the last
   * checkpoint before closing covers them.
   */
  durableHead(opts?: { settle?: boolean }): Promise<AuditHead>;
  /** Store one checkpoint durably (fsynced, or committed). Rejects with `audit-write-failed`. */
  append(cp: StoredCheckpoint): Promise<void>;
  /** Every stored checkpoint, oldest first. */
  read(): AsyncIterable<CheckpointItem>;
}
/** A change recorded as intended but never as answered. */
export interface OpenIntent {
  seq: number;
  requestId: string;
  time: string;
}

/** How many open intents a verify result lists (all are counted). */
export const MAX_LISTED_OPEN_INTENTS = 100;

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

/**
 * Told of records once they are in the trail (written, or committed; an fsync may follow), in
 * `seq` order, with how each was sealed (its `seq`, `hash` and stored line). Called on the store's
 * write path: it must be cheap and must not throw (a throw is caught and ignored). Records whose
 * append failed are never passed. The audit sinks (audit/sinks.ts) copy records from here.
 */
export type WrittenListener = (records: readonly AuditRecord[], sealed: readonly SealedRecord[]) => void;

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
  verify(opts?: VerifyOptions): Promise<VerifyResult>;
  /** Stores that keep signed checkpoints (the file store, PostgreSQL). */
  readonly checkpoints?: AuditCheckpoints;
  /** Follow new records (for `audit tail -f`), from the last `n` records, until `signal` aborts. */
  follow?(opts: { last: number; signal: AbortSignal }): AsyncIterable<StoredAuditRecord>;
  /** Flush pending appends, release the store (and its writer lock). Idempotent. */
  close(): Promise<void>;
  /** Stores with a local spool (PostgreSQL): what waits in it. Cheap; called per scrape and /readyz. */
  status?(): AuditStoreStatus;
}

/** What {@link AuditStore.status} reports. */
export interface AuditStoreStatus {
  /** Records waiting in the local spool. */
  spooledRecords: number;
  /** Bytes waiting in the local spool. */
  spooledBytes: number;
  /** True while appends go to the spool (the database is unreachable or the spool is draining). */
  spooling: boolean;
}

/**
 * Limit stores: the state of the limit stage (rate buckets, quota counters, concurrency leases,
 * the runaway guard's recent calls). Every operation is atomic on its own (one Lua script, one
 * round trip on Redis) and takes the caller's clock, `now` in ms since epoch, so every instance
 * and every test agrees on time without the store reading a clock. Every key a store writes
 * expires by itself. `bucket` is an opaque, already-hashed name built by the limiter
 * (`<rule id>:{<hash>}`): stores never see a user id.
 */

/** A GCRA rate: `limit` units per `windowMs`, of which up to `burst` may be spent at once. */
export interface RateSpec {
  readonly limit: number;
  /** Window, ms. The emission interval is `windowMs / limit`. */
  readonly windowMs: number;
  /** Units usable at once from a full bucket (>= 1). */
  readonly burst: number;
}

/** Outcome of {@link LimitStore.rate}. */
export interface RateOutcome {
  readonly allowed: boolean;
  /** Whole units usable right now after this call (0 when denied). */
  readonly remaining: number;
  /** When denied: ms until the call would be allowed. 0 when allowed. */
  readonly retryAfterMs: number;
  /** ms until the bucket is full again. */
  readonly resetMs: number;
}

/** Outcome of {@link LimitStore.quota}. */
export interface QuotaOutcome {
  readonly allowed: boolean;
  /** Units used in the period, after this call's charge when allowed. */
  readonly used: number;
}

/** Outcome of {@link LimitStore.acquire} and {@link LimitStore.repeat}. */
export interface CountOutcome {
  readonly allowed: boolean;
  /** Entries held after the call (including this one when allowed). */
  readonly count: number;
  /** When denied by {@link LimitStore.repeat}: ms until the oldest entry leaves the window. Else 0. */
  readonly retryAfterMs: number;
}

/** Where the limit stage keeps its counters: `memory` (one instance) or Redis (shared). */
export interface LimitStore {
  readonly kind: 'memory' | 'redis';
  /** GCRA check-and-spend of `cost` units; nothing is spent when denied. */
  rate(bucket: string, spec: RateSpec, cost: number, now: number): Promise<RateOutcome>;
  /** Gives back `cost` units spent by an allowed {@link rate} (the request was refused elsewhere). */
  refundRate(bucket: string, spec: RateSpec, cost: number, now: number): Promise<void>;
  /**
   * Quota check-and-charge in the period named `period` (its start, a stable token): allowed when
   * `used + need <= limit`, then `cost` is added. The counter expires `ttlMs` from `now`.
   */
  quota(bucket: string, period: string, limit: number, cost: number, need: number, ttlMs: number, now: number): Promise<QuotaOutcome>;
  /** Adds `delta` (negative: a refund; never below 0) to a period's counter; returns the new value. */
  addQuota(bucket: string, period: string, delta: number, ttlMs: number, now: number): Promise<number>;
  /** Takes one of `limit` concurrency slots as `leaseId` until `now + leaseMs` unless renewed or released. */
  acquire(bucket: string, limit: number, leaseId: string, leaseMs: number, now: number): Promise<CountOutcome>;
  /** Extends a held lease to `now + leaseMs`; false when it had already expired or been released. */
  renew(bucket: string, leaseId: string, leaseMs: number, now: number): Promise<boolean>;
  /** Frees a slot. Idempotent. */
  release(bucket: string, leaseId: string): Promise<void>;
  /**
   * Sliding-window count: allowed while fewer than `limit` entries are younger than `windowMs`,
   * then records `member` at `now`. A denied call records nothing.
   */
  repeat(bucket: string, limit: number, windowMs: number, member: string, now: number): Promise<CountOutcome>;
  /** Removes an entry {@link repeat} recorded (the request was refused elsewhere). */
  forget(bucket: string, member: string): Promise<void>;
  /** Resolves when the store answers (a round trip on Redis); rejects when it cannot be reached. */
  ping(): Promise<void>;
  /** Releases connections and timers. Idempotent. */
  close(): Promise<void>;
}

/**
 * Revocations: users, clients and single tokens the gateway must refuse although their tokens
 * verify. Every instance keeps a local copy (src/authenticate/revocation-list.ts) and reloads it
 * when {@link RevocationStore.version} changes, so checking a request costs no round trip.
 */

/** What a revocation names: a user id, an acting client id (`azp`/`client_id`), or one token (`jti`). */
export type RevocationKind = 'user' | 'client' | 'token';

/** One revocation. Times are ms since epoch. */
export interface Revocation {
  readonly kind: RevocationKind;
  /** The user id, client id or `jti`, exactly as the verified token carries it. */
  readonly value: string;
  /** Issuer id (`issuers[].id`) it applies to; absent: every issuer. */
  readonly issuer?: string;
  /** When it was made. */
  readonly at: number;
  /**
   * Tokens issued (`iat`) at or before this time are refused; later ones are not (the user signed
   * in again). Absent: every token of the user or client is refused until {@link until}. A token
   * without `iat` counts as issued before.
   */
  readonly issuedBefore?: number;
  /** It is forgotten after this time (by then, every token it was meant for has expired). */
  readonly until: number;
  /** Why, for the audit trail and the operator listing it. */
  readonly reason?: string;
  /** Who made it, as the admin client declared it (the admin token is the authority). */
  readonly by?: string;
}

/**
 * Where revocations are kept: one instance (memory, or a file in its state directory that survives
 * a restart) or shared by every instance (Redis).
 */
export interface RevocationStore {
  readonly kind: 'memory' | 'file' | 'redis';
  /** Adds or replaces the revocation of the same kind, value and issuer. */
  add(revocation: Revocation, now: number): Promise<void>;
  /** Removes it; false when there was none. */
  remove(kind: RevocationKind, value: string, issuer: string | undefined, now: number): Promise<boolean>;
  /** Every revocation not yet past `until`. */
  list(now: number): Promise<Revocation[]>;
  /** A token that changes whenever the set changes (never repeats an earlier value). */
  version(): Promise<string>;
  /** Resolves when the store answers; rejects when it cannot be reached. */
  ping(): Promise<void>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

export type { Approval, ApprovalRequest, ApprovalState, ApprovalStore, ApproverSet, DecideOutcome } from './approval-types.js';
