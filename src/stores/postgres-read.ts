import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { parseStoredLine } from '../audit/chain.js';
import type { AuditHead } from '../audit/head-file.js';
import { matchesQuery } from '../audit/query-filter.js';
import type { StoredAuditRecord } from '../audit/record.js';
import { verifyChain, type ChainEntry } from '../audit/verify-chain.js';
import { BehalfError } from '../errors.js';
import type { AuditQuery, VerifyOptions, VerifyProblem, VerifyResult } from './types.js';
import { describePgError } from './postgres-pool.js';
import { columnText, mismatchedColumn, ROW_COLUMNS, type RecordRow } from './postgres-rows.js';
import type { ReadContext } from './postgres-schema.js';

export type { ReadContext } from './postgres-schema.js';

/**
 * Reading the PostgreSQL audit trail: query, follow and verify. Every read pages through the
 * records by `seq` (keyset pagination, `pageSize` rows per statement), so memory stays bounded
 * however long the trail is, and no statement holds a snapshot for long. Writers commit in `seq`
 * order (they take turns on the head row), so a reader that sees record N also sees every
 * record before it: following by `seq > last` never skips one.
 */


async function select<R extends pg.QueryResultRow>(ctx: ReadContext, text: string, values: unknown[]): Promise<R[]> {
  try {
    return (await ctx.pool.query<R>(text, values)).rows;
  } catch (err) {
    throw new BehalfError('audit-read-failed', `cannot read the audit store ${ctx.where}: ${describePgError(err)}`, { cause: err });
  }
}

/** The head row: the newest record's seq and hash (seq 0 for an empty trail), or why it is unusable. */
export async function readHeadRow(ctx: ReadContext): Promise<AuditHead | string> {
  const rows = await select<{ seq: string; hash: string }>(ctx, `SELECT seq::text AS seq, hash FROM ${ctx.tables.head} WHERE id = 1`, []);
  const row = rows[0];
  if (row === undefined) return 'the head row is missing';
  return { seq: Number(row.seq), hash: row.hash };
}

/** SQL conditions (and their values) for the index columns of `q`. The caller re-checks with `matchesQuery`. */
function filterSql(q: AuditQuery): { conds: string[]; values: unknown[] } {
  const conds: string[] = [];
  const values: unknown[] = [];
  const param = (v: unknown): string => {
    values.push(v);
    return `$${values.length}`;
  };
  if (q.user !== undefined) conds.push(`user_id = ${param(columnText(q.user))}`);
  if (q.route !== undefined) conds.push(`route = ${param(columnText(q.route))}`);
  if (q.tool !== undefined) conds.push(`tool = ${param(columnText(q.tool))}`);
  if (q.reason !== undefined) conds.push(`reason = ${param(columnText(q.reason))}`);
  // A literal, not a parameter, so the planner can use the partial index on denials.
  if (q.decision === 'deny' || q.decision === 'allow') conds.push(`decision = '${q.decision}'`);
  else if (q.decision !== undefined) conds.push(`decision = ${param(columnText(q.decision))}`);
  // Fields without a column: the record's line holds each as `"name":<JSON string>` exactly
  // (canonical JSON escapes as JSON.stringify does, so the text never holds a NUL or a lone
  // surrogate), so a substring test narrows the rows and matchesQuery decides.
  for (const key of ['requestId', 'client', 'door', 'session', 'upstream'] as const) {
    const v = q[key];
    if (v !== undefined) conds.push(`strpos(line, ${param(`${JSON.stringify(key)}:${JSON.stringify(v)}`)}) > 0`);
  }
  if (q.since !== undefined) conds.push(`time_at >= ${param(q.since.toISOString())}::timestamptz`);
  if (q.until !== undefined) conds.push(`time_at < ${param(q.until.toISOString())}::timestamptz`);
  return { conds, values };
}

/**
 * Records matching `q`, oldest first; with `q.limit`, the newest `limit` matches (read newest
 * first, one page at a time, so a short tail of a long trail costs one index scan). `through`
 * stops at that seq (follow uses it to hand over to polling without a gap or a repeat).
 * Stored rows that are not records are skipped: `verify` reports them.
 */
export async function* queryRecords(ctx: ReadContext, q: AuditQuery, through?: number): AsyncGenerator<StoredAuditRecord> {
  const { conds, values } = filterSql(q);
  const where = (extra: string[]): string => {
    const all = [...conds, ...extra];
    return all.length === 0 ? '' : `WHERE ${all.join(' AND ')}`;
  };
  const n = values.length;
  const upper = through === undefined ? [] : [`seq <= ${through}`];
  const matching = (row: RecordRow): StoredAuditRecord | undefined => {
    const rec = parseStoredLine(row.line);
    return typeof rec !== 'string' && matchesQuery(rec, q) ? rec : undefined;
  };
  if (q.limit === undefined) {
    let after = 0;
    for (;;) {
      const text = `SELECT ${ROW_COLUMNS} FROM ${ctx.tables.records} ${where([`seq > $${n + 1}`, ...upper])} ORDER BY seq LIMIT $${n + 2}`;
      const rows = await select<RecordRow>(ctx, text, [...values, after, ctx.pageSize]);
      for (const row of rows) {
        const rec = matching(row);
        if (rec !== undefined) yield rec;
      }
      if (rows.length < ctx.pageSize) return;
      after = Number(rows.at(-1)!.seq);
    }
  }
  const kept: StoredAuditRecord[] = [];
  let before = through === undefined ? Number.MAX_SAFE_INTEGER : through + 1;
  while (kept.length < q.limit) {
    // Usually one statement: the columns only over-match for NUL or lone-surrogate values.
    const want = Math.min(ctx.pageSize, Math.max(q.limit - kept.length, 16));
    const text = `SELECT ${ROW_COLUMNS} FROM ${ctx.tables.records} ${where([`seq < $${n + 1}`])} ORDER BY seq DESC LIMIT $${n + 2}`;
    const rows = await select<RecordRow>(ctx, text, [...values, before, want]);
    for (const row of rows) {
      const rec = matching(row);
      if (rec !== undefined) kept.push(rec);
      if (kept.length === q.limit) break;
    }
    if (rows.length < want) break;
    before = Number(rows.at(-1)!.seq);
  }
  yield* kept.reverse();
}

/** The newest `last` records, then each new one as it is committed (polled every `pollMs`), until `signal` aborts. */
export async function* followRecords(ctx: ReadContext, opts: { last: number; signal: AbortSignal; pollMs: number }): AsyncGenerator<StoredAuditRecord> {
  const rows = await select<{ max: string }>(ctx, `SELECT coalesce(max(seq), 0)::text AS max FROM ${ctx.tables.records}`, []);
  let after = Number(rows[0]?.max ?? 0);
  if (opts.last > 0) yield* queryRecords(ctx, { limit: opts.last }, after);
  while (!opts.signal.aborted) {
    const page = await select<RecordRow>(ctx, `SELECT ${ROW_COLUMNS} FROM ${ctx.tables.records} WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, ctx.pageSize]);
    for (const row of page) {
      after = Number(row.seq);
      const rec = parseStoredLine(row.line);
      if (typeof rec !== 'string') yield rec;
      if (opts.signal.aborted) return;
    }
    if (page.length === ctx.pageSize) continue;
    try {
      await sleep(opts.pollMs, undefined, { signal: opts.signal });
    } catch {
      return;
    }
  }
}

/**
 * Verify the whole chain (verify-chain.ts) in `seq` order, against the head row, and check that
 * each row's index columns still match its record. Of what it finds, the problem at the lowest
 * seq is reported (the chain's own report first on a tie, as it says more):
 * - the chain's problems, as for the file store;
 * - `edited`: a row whose index columns no longer match its record;
 * - `inserted`: rows after the record the head row names, read again at the end (writers move
 *   the head in the same transaction as their rows, so a row beyond it was added outside behalf).
 *
 * This does NOT detect rows and the head row rewritten consistently by someone with write access
 * to the database: anchor the head elsewhere (docs/audit.md).
 */
export async function verifyRecords(ctx: ReadContext, opts: VerifyOptions = {}): Promise<VerifyResult> {
  // The head first: it is committed with the records it names, so they are all visible next.
  const head = await readHeadRow(ctx);
  const table = `${ctx.tables.schema}.behalf_audit_records`;
  const headName = `head row (${ctx.tables.schema}.behalf_audit_head)`;
  let columnProblem: { seq: number; column: string } | undefined;
  const entries = async function* (): AsyncGenerator<ChainEntry> {
    let after = 0;
    for (;;) {
      const rows = await select<RecordRow>(ctx, `SELECT ${ROW_COLUMNS} FROM ${ctx.tables.records} WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, ctx.pageSize]);
      for (const row of rows) {
        const record = parseStoredLine(row.line);
        if (columnProblem === undefined && typeof record !== 'string') {
          const column = mismatchedColumn(row, record);
          if (column !== undefined) columnProblem = { seq: Number(row.seq), column };
        }
        yield { record, file: `row ${row.seq} of ${table}` };
      }
      if (rows.length < ctx.pageSize) return;
      after = Number(rows.at(-1)!.seq);
    }
  };
  const result = await verifyChain(entries(), { head, headName, ...(opts.anchors !== undefined ? { anchors: opts.anchors } : {}) });
  const { warnings } = result;
  const found: VerifyResult[] = [result];
  const failure = (seq: number, kind: VerifyProblem['kind'], message: string): VerifyResult => ({
    ok: false,
    records: seq - 1,
    problem: { seq, kind, file: `row ${seq} of ${table}`, message },
    ...(warnings !== undefined ? { warnings } : {}),
  });
  const c = columnProblem;
  if (c !== undefined) found.push(failure(c.seq, 'edited', `row ${c.seq} was changed after it was written: its ${c.column} column no longer matches the record`));
  if (result.ok) {
    // Read after the rows: every row a writer committed before this point is covered by it.
    const end = await readHeadRow(ctx);
    if (typeof end === 'object' && result.records > end.seq) {
      const extra = end.seq + 1 === result.records ? `record ${result.records} comes` : `records ${end.seq + 1} to ${result.records} come`;
      found.push(failure(end.seq + 1, 'inserted', `${extra} after the record the ${headName} names (${end.seq}): added outside behalf`));
    }
  }
  const problems = found.filter((r) => r.problem !== undefined);
  // A stable sort: on a tie the chain's own report, pushed first, wins.
  problems.sort((a, b) => a.problem!.seq - b.problem!.seq);
  return problems[0] ?? result;
}
