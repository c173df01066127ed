import type { Approvals } from '../approve/approvals.js';
import type { Auditor } from '../audit/auditor.js';
import type { AuditSinks } from '../audit/sinks.js';
import type { SinkStatus } from '../audit/sink-pump.js';
import type { Authenticator } from '../authenticate/index.js';
import type { RevocationList } from '../authenticate/revocation-list.js';
import type { Config } from '../config/schema.js';
import type { Limiter } from '../limit/limiter.js';
import type { AuditStore, LimitStore } from '../stores/types.js';

/** What `/readyz` answers: ready when every check passes, with each check's detail. */
export interface ReadyStatus {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/** The parts whose health decides readiness. */
export interface ReadinessParts {
  readonly config: Config;
  readonly authenticator: Authenticator;
  readonly auditor: Auditor;
  readonly auditStore: AuditStore;
  readonly revocations: RevocationList;
  readonly limiter: Limiter;
  readonly limitStore: LimitStore;
  /** The audit sinks: reported, never a reason to be unready. */
  readonly auditSinks?: AuditSinks;
  /** Human approval, when a rule asks for it and its store is shared. */
  readonly approvals?: Approvals;
}

/**
 * The readiness check: the identity providers' keys (one check per issuer, read from memory so
 * that a slow or unreachable IdP never makes `/readyz` wait: ok while keys are held, with the last
 * failed fetch in the detail; a missing or old key set is refetched in the background, at most
 * once per `issuers[].jwksRefetch.minIntervalMs`), the signing keys, the audit trail (a spooling
 * PostgreSQL store is not unready: every record is kept and the gateway serves,
 * docs/operations.md), fresh revocations (unless `revocation.onStoreError: allow`), and a ping of
 * a shared limit store when limits are active, and of a shared approval store when a rule asks for
 * approvals (reported in its detail, never unready).
 *
 * This does NOT wait for any identity provider, and does NOT say whether tokens verify: an IdP
 * signing with a key it does not publish is a 401 per token (each rechecked within the refetch
 * limits), not a reason to take every instance out of the load balancer. It does NOT check the
 * backends: a route's backend being down is a 502 for that route, not a reason to take the
 * gateway out of a load balancer. An audit sink (`audit.sinks`) is reported with its drops and
 * failure as a detail, always ok: a SIEM's copy being late is no reason to stop serving.
 */
export function createReadiness(parts: ReadinessParts): () => Promise<ReadyStatus> {
  const { config, authenticator, auditor, auditStore, revocations, limiter, limitStore, approvals, auditSinks } = parts;
  const approvalRules = config.policies.some((p) => p.approval !== undefined);
  return async () => {
    const checks: ReadyStatus['checks'] = {};
    for (const r of authenticator.keyStatus()) checks[`jwks:${r.issuerId}`] = r.detail === undefined ? { ok: r.ok } : { ok: r.ok, detail: r.detail };
    checks['signing-keys'] = { ok: true };
    checks['audit'] = auditor.healthy ? { ok: true } : { ok: false, detail: 'last audit write failed' };
    const spool = auditStore.status?.();
    if (spool !== undefined && spool.spooling) checks['audit'] = { ok: checks['audit'].ok, detail: `PostgreSQL unreachable: ${spool.spooledRecords} records spooled` };
    for (const sink of auditSinks?.sinks ?? []) checks[`audit-sink:${sink.name}`] = sinkCheck(sink.status());
    checks['revocations'] = revocations.fresh ? { ok: true } : { ok: config.revocation.onStoreError === 'allow', detail: 'revocation store unreachable' };
    if (limiter.active && limitStore.kind !== 'memory') {
      checks['limits'] = await limitStore.ping().then(
        () => ({ ok: true }),
        () => ({ ok: false, detail: 'limit store unreachable' }),
      );
    }
    if (approvals !== undefined && approvalRules && approvals.store.kind !== 'memory') {
      // Reported, not unready: every instance shares the store, so leaving the load balancer
      // would not help, and only requests that need an approval are refused (503) meanwhile.
      checks['approvals'] = await approvals.store.ping().then(
        () => ({ ok: true }),
        () => ({ ok: true, detail: 'approval store unreachable: requests that need an approval are refused (503 approval-unavailable)' }),
      );
    }
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  };
}

/** An audit sink's readiness entry: always ok; the detail says what an operator should look at. */
function sinkCheck(status: SinkStatus): { ok: boolean; detail?: string } {
  const notes: string[] = [];
  if (status.failing !== undefined) notes.push(`delivery failing (${status.failing}), ${status.queued} records queued`);
  if (status.dropped > 0) notes.push(`${status.dropped} records dropped since start (the audit store still holds them)`);
  return notes.length === 0 ? { ok: true } : { ok: true, detail: notes.join('; ') };
}
