import type { StoredCheckpoint } from '../audit/checkpoint-format.js';
import { BehalfError } from '../errors.js';
import { describePgError } from './postgres-pool.js';
import { readHeadRow } from './postgres-read.js';
import type { ReadContext } from './postgres-schema.js';
import type { AuditCheckpoints, CheckpointItem } from './types.js';

/**
 * Signed checkpoints in PostgreSQL: rows of `behalf_audit_checkpoints` (postgres-schema.ts).
 * Several gateways sharing one chain each sign the head they see; verification checks them all.
 *
 * This does NOT stop someone with write access to the table from deleting rows: a forged or
 * altered checkpoint fails its signature, a deleted one is caught only as far as
 * `behalf audit verify` checks coverage (docs/audit.md).
 */
export function postgresCheckpoints(ctx: ReadContext, readOnly: boolean): AuditCheckpoints {
  return {
    async durableHead() {
      const head = await readHeadRow(ctx);
      if (typeof head === 'string') throw new BehalfError('audit-chain-broken', `audit store ${ctx.where}: ${head}`);
      return head;
    },
    async append(cp: StoredCheckpoint) {
      if (readOnly) throw new BehalfError('audit-write-failed', `audit store ${ctx.where} is open read-only`);
      try {
        await ctx.pool.query(`INSERT INTO ${ctx.tables.checkpoints} (seq, time_at, kid, jws) VALUES ($1, $2, $3, $4)`, [cp.seq, cp.time, cp.kid, cp.jws]);
      } catch (err) {
        throw new BehalfError('audit-write-failed', `the audit checkpoint could not be written to ${ctx.where}: ${describePgError(err)}`, { cause: err });
      }
    },
    read: () => readCheckpointRows(ctx),
  };
}

async function* readCheckpointRows(ctx: ReadContext): AsyncGenerator<CheckpointItem> {
  const table = `${ctx.tables.schema}.behalf_audit_checkpoints`;
  let after = '0';
  for (;;) {
    let rows: { id: string; seq: string; jws: string }[];
    try {
      rows = (await ctx.pool.query<{ id: string; seq: string; jws: string }>(`SELECT id::text AS id, seq::text AS seq, jws FROM ${ctx.tables.checkpoints} WHERE id > $1 ORDER BY id LIMIT $2`, [after, ctx.pageSize])).rows;
    } catch (err) {
      // A trail written before checkpoints existed (schema version 2), read without migrating.
      if ((err as { code?: string }).code === '42P01') return;
      throw new BehalfError('audit-read-failed', `cannot read the audit checkpoints in ${ctx.where}: ${describePgError(err)}`, { cause: err });
    }
    for (const r of rows) yield { jws: r.jws, where: `row ${r.id} of ${table}`, seq: Number(r.seq) };
    if (rows.length < ctx.pageSize) return;
    after = rows.at(-1)!.id;
  }
}
