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
