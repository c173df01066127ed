import type pg from 'pg';
import { computeRecordHash, GENESIS_PREV, parseStoredLine } from '../audit/chain.js';
import type { AuditHead } from '../audit/head-file.js';
import type { StoredAuditRecord } from '../audit/record.js';
import { BehalfError } from '../errors.js';
import { checkoutForWrite, describePgError } from './postgres-pool.js';
import { columnsOf, storedLine } from './postgres-rows.js';
import type { AuditTables } from './postgres-schema.js';

/** Outcome of {@link importAuditRecords}. */
export interface ImportResult {
  /** Records added to the trail. */
  readonly imported: number;
  /** Records of the source the trail already held (same seq and hash), left as they were. */
  readonly skipped: number;
  /** The trail's head after the import. */
  readonly head: AuditHead;
}

/**
 * Add records sealed elsewhere to the PostgreSQL trail, keeping their `seq`, `prev` and `hash`,
 * in ONE transaction that holds the head row throughout: either every record goes in or none
 * does, and gateways writing to the same trail wait (and fail closed after their statement
 * timeout) until it commits, so run it before starting them.
 *
 * Accepted sources, checked record by record while reading (nothing is trusted up front):
 * - each record matches its own hash and links to the one before (`seq` + 1, `prev`);
 * - into an empty trail: a whole trail, from record 1;
 * - into a non-empty trail ending at record N: a source that continues it exactly. Source
 *   records up to N are skipped; the first one after N must link to the trail's record N
 *   (which, by the chain, means the overlap is the same records). A source that ends at or
 *   before N must hold the trail's own record at its last seq.
 *
 * This does NOT check the trail already in the table (run `verify()`), nor that the source's
 * newest records were not cut off (verify the source first; an embedded store's head file
 * tells).
 *
 * @throws BehalfError `audit-chain-broken` (the source is refused; nothing was imported),
 *         `audit-write-failed` (the server failed; nothing was imported).
 */
export async function importAuditRecords(
  pool: pg.Pool,
  t: AuditTables,
  where: string,
  source: AsyncIterable<StoredAuditRecord | string>,
  batchSize: number,
): Promise<ImportResult> {
  const refuse = (why: string): BehalfError => new BehalfError('audit-chain-broken', `import refused, nothing imported: ${why}`);
  const conn = await checkoutForWrite(pool, where);
  const { client } = conn;
  let ok = false;
  try {
    const results = (await client.query(
      // Reading the source between batches leaves the transaction idle for a moment.
      `BEGIN; SET LOCAL idle_in_transaction_session_timeout = '60s'; SELECT seq::text AS seq, hash FROM ${t.head} WHERE id = 1 FOR UPDATE`,
    )) as unknown as pg.QueryResult<{ seq: string; hash: string }>[];
    const row = results[2]?.rows[0];
    if (row === undefined) throw refuse(`the head row of ${where} is missing`);
    const head: AuditHead = { seq: Number(row.seq), hash: row.hash };
    let prev: StoredAuditRecord | undefined;
    let lastSkipped: StoredAuditRecord | undefined;
    let skipped = 0;
    let imported = 0;
    let cols: unknown[][] = [[], [], [], [], [], [], [], []];
    const flush = async (): Promise<void> => {
      if (cols[0]!.length === 0) return;
      await client.query(
        `INSERT INTO ${t.records} (seq, time_at, user_id, route, tool, decision, reason, line)
         SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
        cols,
      );
      cols = [[], [], [], [], [], [], [], []];
    };
    let position = 0;
    for await (const item of source) {
      position++;
      if (typeof item === 'string') throw refuse(`item ${position} of the source is not a valid audit record (${item})`);
      const r = item;
      if (computeRecordHash(r as unknown as Record<string, unknown>) !== r.hash) throw refuse(`record ${r.seq} of the source does not match its hash`);
      if (prev === undefined) {
        if (r.seq === 1 && r.prev !== GENESIS_PREV) throw refuse('the first record of the source does not start a chain');
        if (r.seq > head.seq + 1) {
          throw refuse(
            head.seq === 0
              ? `the source starts at record ${r.seq}; an empty trail takes a whole trail, from record 1`
              : `the source starts at record ${r.seq} but the trail ends at record ${head.seq}: records in between would be missing`,
          );
        }
      } else if (r.seq !== prev.seq + 1 || r.prev !== prev.hash) {
        throw refuse(`the source does not chain at record ${r.seq} (after record ${prev.seq}): verify it first`);
      }
      prev = r;
      if (r.seq <= head.seq) {
        skipped++;
        lastSkipped = r;
        continue;
      }
      if (r.seq === head.seq + 1 && r.prev !== head.hash) {
        throw refuse(`record ${r.seq} of the source does not continue the trail in ${where}: it does not link to the trail's record ${head.seq}`);
      }
      const c = columnsOf(r);
      const values = [r.seq, c.time_at, c.user_id, c.route, c.tool, c.decision, c.reason, storedLine(r)];
      for (let i = 0; i < values.length; i++) cols[i]!.push(values[i]);
      imported++;
      if (cols[0]!.length >= batchSize) await flush();
    }
    if (imported === 0 && lastSkipped !== undefined) {
      const res = await client.query<{ line: string }>(`SELECT line FROM ${t.records} WHERE seq = $1`, [lastSkipped.seq]);
      const mine = res.rows[0] === undefined ? undefined : parseStoredLine(res.rows[0].line);
      if (typeof mine !== 'object' || mine.hash !== lastSkipped.hash) throw refuse(`the source differs from the trail in ${where} at or before record ${lastSkipped.seq}`);
    }
    await flush();
    const newHead = imported > 0 && prev !== undefined ? { seq: prev.seq, hash: prev.hash } : head;
    if (imported > 0) await client.query(`UPDATE ${t.head} SET seq = $1, hash = $2 WHERE id = 1`, [newHead.seq, newHead.hash]);
    await client.query('COMMIT');
    ok = true;
    return { imported, skipped, head: newHead };
  } catch (err) {
    if (err instanceof BehalfError) throw err;
    throw new BehalfError('audit-write-failed', `audit records could not be imported into ${where}: ${describePgError(err)}`, { cause: err });
  } finally {
    // Closing the connection of a failed import rolls the whole transaction back.
    conn.done(ok);
  }
}
