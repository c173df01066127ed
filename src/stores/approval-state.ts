import type { Approval, ApprovalState } from './types.js';

/** How long an approval is kept after it ended (decided, used or expired), for listing: 1 h. */
export const APPROVAL_RETENTION_MS = 3_600_000;

/** The state of `a` at `now`: a pending one past its deadline, or an approved one past its use-by time, is expired. */
export function stateAt(a: Approval, now: number): ApprovalState {
  if (a.state === 'pending' && now >= a.expiresAt) return 'expired';
  if (a.state === 'approved' && now >= (a.usableUntil ?? 0)) return 'expired';
  return a.state;
}

/** `a` as seen at `now` (its `state` computed). */
export function asSeen(a: Approval, now: number): Approval {
  const state = stateAt(a, now);
  return state === a.state ? a : { ...a, state };
}

/**
 * Whether `a` still answers for its binding: pending or denied until its deadline (a denied
 * request is not asked again before then), approved until used or past its use-by time.
 */
export function isOpen(a: Approval, now: number): boolean {
  const state = stateAt(a, now);
  if (state === 'pending' || state === 'approved') return true;
  return state === 'denied' && now < a.expiresAt;
}

/** When the store may forget `a`: an hour after the last moment it could matter. */
export function forgetAt(a: Approval): number {
  return Math.max(a.expiresAt, a.usableUntil ?? 0, a.usedAt ?? 0, a.decidedAt ?? 0) + APPROVAL_RETENTION_MS;
}

/** The stored parts of an approval: the request as written (JSON) and its state fields, as text or numbers. */
export interface StoredApproval {
  readonly id: string;
  readonly binding: string;
  readonly state: string;
  readonly request: unknown;
  readonly decidedBy?: string | undefined;
  readonly decidedAt?: number | undefined;
  readonly note?: string | undefined;
  readonly usableUntil?: number | undefined;
  readonly usedAt?: number | undefined;
}

const STORED_STATES: ReadonlySet<string> = new Set(['pending', 'approved', 'denied', 'used']);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

/**
 * The approval a shared store holds, or undefined when it is damaged: a state that is not one
 * of those stored, a request whose id or binding differ from the row's or key's, or a field of the
 * wrong type. A damaged entry is never trusted (Redis and PostgreSQL read through this).
 */
export function approvalFromStored(s: StoredApproval): Approval | undefined {
  const req = s.request;
  if (!STORED_STATES.has(s.state) || typeof req !== 'object' || req === null) return undefined;
  const r = req as Record<string, unknown>;
  const { id, binding, ruleId, user, target, createdAt, expiresAt, validMs } = r;
  if (id !== s.id || binding !== s.binding || typeof ruleId !== 'string' || typeof user !== 'string' || typeof target !== 'string') return undefined;
  if (typeof createdAt !== 'number' || typeof expiresAt !== 'number' || typeof validMs !== 'number') return undefined;
  const approvers = (typeof r['approvers'] === 'object' && r['approvers'] !== null ? r['approvers'] : {}) as Record<string, unknown>;
  return {
    id: s.id,
    binding: s.binding,
    ruleId,
    user,
    target,
    createdAt,
    expiresAt,
    validMs,
    approvers: { users: strings(approvers['users']), roles: strings(approvers['roles']), groups: strings(approvers['groups']) },
    ...(typeof r['client'] === 'string' ? { client: r['client'] } : {}),
    ...(typeof r['arguments'] === 'string' ? { arguments: r['arguments'] } : {}),
    ...(typeof r['reason'] === 'string' ? { reason: r['reason'] } : {}),
    state: s.state as ApprovalState,
    ...(s.decidedBy === undefined ? {} : { decidedBy: s.decidedBy }),
    ...(s.decidedAt === undefined ? {} : { decidedAt: s.decidedAt }),
    ...(s.note === undefined ? {} : { note: s.note }),
    ...(s.usableUntil === undefined ? {} : { usableUntil: s.usableUntil }),
    ...(s.usedAt === undefined ? {} : { usedAt: s.usedAt }),
  };
}
