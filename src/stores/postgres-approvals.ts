import type pg from 'pg';
import type { Logger } from 'pino';
import { BehalfError } from '../errors.js';
import { APPROVAL_RETENTION_MS, approvalFromStored, asSeen } from './approval-state.js';
import { checkout, createPostgresPool, describePgError } from './postgres-pool.js';
import { parsePostgresUrl, quoteIdent } from './postgres-url.js';
import type { Approval, ApprovalStore } from './types.js';

/** Ids the gateway makes: anything else names no approval (and is never sent to the database). */
const ID = /^[A-Za-z0-9_-]{16,64}$/;
/** Most approvals listed. */
const LIST_LIMIT = 1_000;

/**
 * Approvals shared by every gateway instance, in PostgreSQL (`approvals.store: postgres://...`,
 * `?schema=` as for the audit store). One table, `behalf_approvals`, created when missing: the
 * request as JSON (never changed) and its state in columns. Each change is one statement whose
 * `WHERE` says from which state it may happen (`pending` to decided, `approved` to used), so two
 * instances never both use one approval; `open` serialises the requests of one binding with a
 * transaction-scoped advisory lock, so a retried call never opens two. Rows are deleted an hour
 * after they can no longer matter.
 *
 * Operations fail with `BehalfError('approval-store-failed')` (never naming the password): the
 * approve stage then refuses the request (fail closed).
 *
 * This does NOT check what it reads beyond its shape: anyone who can write the table can approve
 * requests, so give the gateways' database role alone write access to it.
 */
export function createPostgresApprovalStore(url: string, opts: { logger?: Logger } = {}): ApprovalStore {
  const loc = parsePostgresUrl(url);
  const schema = quoteIdent(loc.schema);
  const table = `${schema}.behalf_approvals`;
  const pool = createPostgresPool(loc, { maxConnections: 4 }, (err) => opts.logger?.warn({ err: { message: describePgError(err) } }, 'approval store (PostgreSQL) connection lost'));
  let ready: Promise<void> | undefined;
  const fail = (what: string, err: unknown) =>
    isStoreError(err) ? err : new BehalfError('approval-store-failed', `approval store (PostgreSQL ${loc.display}) ${what} failed: ${describePgError(err)}`, { cause: err });

  /** Creates the schema and table once per process (concurrent gateways serialise on an advisory lock). */
  const ensureTable = (): Promise<void> => {
    ready ??= (async () => {
      const c = await checkout(pool);
      let ok = false;
      try {
        await c.client.query('BEGIN');
        await c.client.query(`SELECT pg_advisory_xact_lock(hashtext('behalf_approvals_schema'))`);
        await c.client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await c.client.query(`CREATE TABLE IF NOT EXISTS ${table} (
          id text PRIMARY KEY,
          binding text NOT NULL,
          state text NOT NULL,
          request jsonb NOT NULL,
          created_at bigint NOT NULL,
          expires_at bigint NOT NULL,
          valid_ms bigint NOT NULL,
          decided_by text,
          decided_at bigint,
          note text,
          usable_until bigint,
          used_at bigint,
          forget_at bigint NOT NULL
        )`);
        await c.client.query(`CREATE INDEX IF NOT EXISTS behalf_approvals_binding ON ${table} (binding, created_at DESC)`);
        await c.client.query('COMMIT');
        ok = true;
      } finally {
        if (!ok) await c.client.query('ROLLBACK').catch(() => {});
        c.done(ok);
      }
    })().catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
  const run = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    try {
      await ensureTable();
      return await op();
    } catch (err) {
      throw fail(what, err);
    }
  };
  const one = async (text: string, values: unknown[]): Promise<Approval | undefined> => {
    const { rows } = await pool.query(text, values);
    return rows[0] === undefined ? undefined : approvalOf(rows[0] as Row);
  };

  return {
    kind: 'postgres',
    open: (request, now) =>
      run('open', async () => {
        const c = await checkout(pool);
        let ok = false;
        try {
          await c.client.query('BEGIN');
          await c.client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`behalf_approval:${request.binding}`]);
          await c.client.query(`DELETE FROM ${table} WHERE forget_at <= $1`, [now]);
          const { rows } = await c.client.query(
            `SELECT * FROM ${table} WHERE binding = $1 AND ((state IN ('pending', 'denied') AND expires_at > $2) OR (state = 'approved' AND usable_until > $2)) ORDER BY created_at DESC LIMIT 1`,
            [request.binding, now],
          );
          let result: { approval: Approval; created: boolean };
          if (rows[0] !== undefined) {
            const current = approvalOf(rows[0] as Row);
            if (current === undefined) throw new BehalfError('approval-store-failed', 'approval store (PostgreSQL): a damaged row');
            result = { approval: asSeen(current, now), created: false };
          } else {
            await c.client.query(`INSERT INTO ${table} (id, binding, state, request, created_at, expires_at, valid_ms, forget_at) VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7)`, [
              request.id,
              request.binding,
              JSON.stringify(request),
              request.createdAt,
              request.expiresAt,
              request.validMs,
              request.expiresAt + APPROVAL_RETENTION_MS,
            ]);
            result = { approval: { ...request, state: 'pending' }, created: true };
          }
          await c.client.query('COMMIT');
          ok = true;
          return result;
        } finally {
          if (!ok) await c.client.query('ROLLBACK').catch(() => {});
          c.done(ok);
        }
      }),
    get: (id, now) =>
      run('read', async () => {
        if (!ID.test(id)) return undefined;
        const a = await one(`SELECT * FROM ${table} WHERE id = $1 AND forget_at > $2`, [id, now]);
        return a === undefined ? undefined : asSeen(a, now);
      }),
    decide: (id, decision, by, now, note) =>
      run('decide', async () => {
        if (!ID.test(id)) return { ok: false };
        const decided = await one(
          `UPDATE ${table} SET state = $2, decided_by = $3, decided_at = $4, note = $5,
             usable_until = CASE WHEN $2 = 'approved' THEN $4 + valid_ms END,
             forget_at = GREATEST(forget_at, CASE WHEN $2 = 'approved' THEN $4 + valid_ms ELSE 0 END + $6)
           WHERE id = $1 AND state = 'pending' AND expires_at > $4 RETURNING *`,
          [id, decision, by, now, note ?? null, APPROVAL_RETENTION_MS],
        );
        if (decided !== undefined) return { ok: true, approval: decided };
        const current = await one(`SELECT * FROM ${table} WHERE id = $1 AND forget_at > $2`, [id, now]);
        return current === undefined ? { ok: false } : { ok: false, approval: asSeen(current, now) };
      }),
    use: (id, binding, now) =>
      run('use', async () => {
        if (!ID.test(id)) return undefined;
        return one(`UPDATE ${table} SET state = 'used', used_at = $3 WHERE id = $1 AND binding = $2 AND state = 'approved' AND usable_until > $3 RETURNING *`, [id, binding, now]);
      }),
    list: (now) =>
      run('list', async () => {
        const { rows } = await pool.query(`SELECT * FROM ${table} WHERE forget_at > $1 ORDER BY created_at DESC LIMIT ${LIST_LIMIT}`, [now]);
        return (rows as Row[]).map(approvalOf).filter((a): a is Approval => a !== undefined).map((a) => asSeen(a, now));
      }),
    ping: () =>
      run('ping', async () => {
        await pool.query('SELECT 1');
      }),
    async close() {
      await pool.end().catch(() => {});
    },
  };
}

function isStoreError(err: unknown): err is BehalfError {
  return err instanceof BehalfError;
}

/** A row of `behalf_approvals` (bigint columns arrive as strings). */
interface Row {
  id: string;
  binding: string;
  state: string;
  request: Record<string, unknown>;
  decided_by: string | null;
  decided_at: string | null;
  note: string | null;
  usable_until: string | null;
  used_at: string | null;
}

const num = (v: string | null): number | undefined => (v === null ? undefined : Number(v));

/** The approval a row holds, or undefined when it is damaged (never trusted). */
function approvalOf(row: Row): Approval | undefined {
  return approvalFromStored({
    id: row.id,
    binding: row.binding,
    state: row.state,
    request: row.request,
    decidedBy: row.decided_by ?? undefined,
    decidedAt: num(row.decided_at),
    note: row.note ?? undefined,
    usableUntil: num(row.usable_until),
    usedAt: num(row.used_at),
  });
}
