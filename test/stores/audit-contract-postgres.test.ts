/**
 * The audit store contract against PostgreSQL, each trail in its own schema (dropped after the
 * file). Tampering is plain SQL on the rows, as someone with database access would do it.
 */
import { computeRecordHash } from '../../src/audit/chain.js';
import { openPostgresAuditStore } from '../../src/stores/postgres-audit-store.js';
import { freshSchema, sql } from '../audit/postgres-helpers.js';
import { auditStoreContract, type TrailUnderTest } from './audit-contract.js';

auditStoreContract({
  name: 'postgres store',
  async fresh(): Promise<TrailUnderTest> {
    const { schema, url } = await freshSchema();
    const records = `"${schema}".behalf_audit_records`;
    return {
      open: () => openPostgresAuditStore(url, { flushMs: 1 }),
      openReader: () => openPostgresAuditStore(url, { readOnly: true, pollMs: 20 }),
      async edit(seq, set, opts) {
        const [row] = await sql<{ line: string }>(`SELECT line FROM ${records} WHERE seq = $1`, [seq]);
        const obj: Record<string, unknown> = { ...JSON.parse(row!.line), ...set };
        if (opts?.rehash === true) obj.hash = computeRecordHash(obj);
        await sql(`UPDATE ${records} SET line = $2 WHERE seq = $1`, [seq, JSON.stringify(obj)]);
      },
      async remove(seq) {
        await sql(`DELETE FROM ${records} WHERE seq = $1`, [seq]);
      },
      async swap(a, b) {
        // Through a free seq: the primary key is checked row by row.
        await sql(`UPDATE ${records} SET seq = 999999 WHERE seq = $1`, [a]);
        await sql(`UPDATE ${records} SET seq = $1 WHERE seq = $2`, [a, b]);
        await sql(`UPDATE ${records} SET seq = $1 WHERE seq = 999999`, [b]);
      },
    };
  },
});
