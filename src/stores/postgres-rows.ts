import { canonicalJson } from '../lib/canonical-json.js';
import type { AuditRecord, StoredAuditRecord } from '../audit/record.js';

/**
 * How an audit record maps to a `behalf_audit_records` row (see postgres-schema.ts). The record
 * itself is `line`; the other columns only serve the indexes, so they may be lossy: PostgreSQL
 * text cannot hold NUL and stores a lone UTF-16 surrogate as U+FFFD, so both become U+FFFD
 * there. Queries therefore filter on the columns first and then re-check every candidate
 * against the record itself (query-filter.ts), which keeps matches exact.
 */

/** The index columns of one row, as sent to and read back from PostgreSQL. */
export interface RecordColumns {
  /** ISO-8601 instant, or null when `time` is not a parseable date in years 1..9999. */
  readonly time_at: string | null;
  readonly user_id: string | null;
  readonly route: string | null;
  readonly tool: string | null;
  readonly decision: string | null;
  readonly reason: string | null;
}

/** A row as `SELECT seq, line, <columns>` returns it (node-postgres: bigint as string, timestamptz as Date). */
export interface RecordRow {
  readonly seq: string;
  readonly line: string;
  readonly time_at: Date | null;
  readonly user_id: string | null;
  readonly route: string | null;
  readonly tool: string | null;
  readonly decision: string | null;
  readonly reason: string | null;
}

/** The select list matching {@link RecordRow}. */
export const ROW_COLUMNS = 'seq, line, time_at, user_id, route, tool, decision, reason';

const NUL_OR_LONE_SURROGATE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `value` as a PostgreSQL text column stores it (see the file comment); null for absent. */
export function columnText(value: string | undefined): string | null {
  if (value === undefined) return null;
  return value.replace(NUL_OR_LONE_SURROGATE, '\ufffd');
}

const MIN_TIME = -62_135_596_800_000; // 0001-01-01T00:00:00Z
const MAX_TIME = 253_402_300_800_000; // 10000-01-01T00:00:00Z, exclusive: later years have no ISO form PostgreSQL reads

/** Epoch ms of a record's `time`, or undefined when it has none PostgreSQL can store. */
export function timeMs(time: string): number | undefined {
  const t = Date.parse(time);
  return Number.isNaN(t) || t < MIN_TIME || t >= MAX_TIME ? undefined : t;
}

/** The index columns for `rec`. */
export function columnsOf(rec: AuditRecord): RecordColumns {
  const t = timeMs(rec.time);
  return {
    time_at: t === undefined ? null : new Date(t).toISOString(),
    user_id: columnText(rec.user),
    route: columnText(rec.route),
    tool: columnText(rec.tool),
    decision: columnText(rec.decision),
    reason: columnText(rec.reason),
  };
}

/**
 * The first index column of `row` that no longer matches its record, if any (someone changed
 * the row but not `line`, which would hide the record from queries).
 *
 * This does NOT check `line` against its hash: verify-chain.ts does.
 */
export function mismatchedColumn(row: RecordRow, rec: StoredAuditRecord): string | undefined {
  if (String(rec.seq) !== row.seq) return 'seq';
  const want = columnsOf(rec);
  for (const key of ['user_id', 'route', 'tool', 'decision', 'reason'] as const) {
    if (want[key] !== row[key]) return key;
  }
  const t = row.time_at === null ? null : row.time_at.getTime();
  const w = want.time_at === null ? null : Date.parse(want.time_at);
  return t === w ? undefined : 'time_at';
}

/**
 * The stored text of a record already sealed (canonical JSON without `hash`, then `hash` as the
 * last member): the same bytes `sealRecord` produced when it was written, for a record that
 * still matches its hash.
 */
export function storedLine(rec: StoredAuditRecord): string {
  const { hash, ...rest } = rec;
  return `${canonicalJson(rest).slice(0, -1)},"hash":"${hash}"}`;
}
