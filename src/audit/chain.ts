import { canonicalJson } from '../lib/canonical-json.js';
import { sha256Hex } from '../lib/digest.js';
import type { AuditRecord, StoredAuditRecord } from './record.js';
import { recordMembersText } from './record-text.js';

/**
 * The hash chain shared by every audit store (file, PostgreSQL): how a record is serialised,
 * hashed and linked to its predecessor. docs/audit.md restates this so a third party can
 * re-implement verification.
 *
 * Canonical serialisation (the JSON Canonicalization Scheme, RFC 8785, for the values an audit
 * record can hold):
 * - objects: keys sorted by UTF-16 code units (JavaScript's default sort), written as
 *   `{"k":v,...}` with no whitespace; keys whose value is `undefined` are left out;
 * - arrays: `[v,...]` in order, `undefined` written as `null`;
 * - strings: as `JSON.stringify` writes them (minimal escaping, lone surrogates as `\uXXXX`);
 * - numbers: as `JSON.stringify` writes them (ECMAScript shortest round-trip form); a non-finite
 *   number is written as `null`;
 * - `true`, `false`, `null` as themselves.
 *
 * Record hash: lowercase hex SHA-256 over the UTF-8 bytes of the canonical form of the stored
 * record WITHOUT its `hash` field (so it covers every record field plus `seq` and `prev`).
 * Chain: `seq` starts at 1 and grows by exactly 1; `prev` is the previous record's `hash`, and
 * `''` for seq 1.
 */

/** `prev` of the first record in a trail. */
export const GENESIS_PREV = '';


/**
 * The hash a stored record must carry: SHA-256 over its canonical form without `hash`.
 *
 * This does NOT check `seq` or `prev` against the neighbours: use {@link checkLink} for that.
 */
export function computeRecordHash(record: Readonly<Record<string, unknown>>): string {
  const { hash: _ignored, ...rest } = record;
  return sha256Hex(canonicalJson(rest));
}

/** A record sealed into the chain: its place, its hash, and the line a text store writes. */
export interface SealedRecord {
  readonly seq: number;
  readonly prev: string;
  readonly hash: string;
  /** Canonical JSON of the record with `hash` appended last, no trailing newline. */
  readonly line: string;
}

/**
 * Seal `rec` as the record after (`prevSeq`, `prevHash`). Any `seq`/`prev`/`hash` already on
 * `rec` is replaced. Costs one canonical serialisation (by a plan compiled once per record
 * shape, record-text.ts) and one one-shot SHA-256: a few microseconds, once per request.
 *
 * This does NOT check that `rec` holds no secrets or bodies: the pipeline builds records that
 * way (see record.ts).
 */
export function sealRecord(rec: AuditRecord, prevSeq: number, prevHash: string): SealedRecord {
  const seq = prevSeq + 1;
  const members = recordMembersText(rec, seq, prevHash);
  const hash = sha256Hex(`{${members}}`);
  // The hash is appended after the canonical body (not sorted in) so the line stays cheap to
  // build; verification parses the line and recomputes from the fields, so layout is free.
  return { seq, prev: prevHash, hash, line: `{${members},"hash":"${hash}"}` };
}

/** `rec` as stored under `sealed` (for stores that keep fields rather than lines). */
export function storedRecord(rec: AuditRecord, sealed: SealedRecord): StoredAuditRecord {
  return { ...rec, seq: sealed.seq, prev: sealed.prev, hash: sealed.hash };
}

/** Parse one stored line. Returns a reason string instead of throwing when it is not a record. */
export function parseStoredLine(line: string): StoredAuditRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not valid JSON';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const r = value as Record<string, unknown>;
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq < 1) return 'seq is missing or not a positive integer';
  if (typeof r.prev !== 'string') return 'prev is missing';
  if (typeof r.hash !== 'string' || !/^[0-9a-f]{64}$/.test(r.hash)) return 'hash is missing or not 64 hex digits';
  return r as unknown as StoredAuditRecord;
}

/**
 * Does `rec` follow (`prevSeq`, `prevHash`) directly, and does its own hash match its content?
 *
 * This does NOT classify what went wrong (edit, deletion, reorder): verify-chain.ts does, with
 * look-ahead. It does NOT detect a consistent rewrite of the whole chain from some point on:
 * only a hash anchored outside the store (the head file, an export) can.
 */
export function checkLink(
  rec: StoredAuditRecord,
  prevSeq: number,
  prevHash: string,
): 'ok' | 'hash-mismatch' | 'seq-mismatch' | 'prev-mismatch' {
  if (computeRecordHash(rec as unknown as Record<string, unknown>) !== rec.hash) return 'hash-mismatch';
  if (rec.seq !== prevSeq + 1) return 'seq-mismatch';
  if (rec.prev !== prevHash) return 'prev-mismatch';
  return 'ok';
}
