import { asSeen, forgetAt, isOpen, stateAt } from './approval-state.js';
import type { Approval, ApprovalStore } from './types.js';

/**
 * Approvals of one gateway process (`approvals.store: memory`, the default). A restart forgets
 * them (pending requests are asked again); with several instances, use Redis so an approval
 * given on one is honoured by all.
 */
export function createMemoryApprovalStore(): ApprovalStore {
  const byId = new Map<string, Approval>();
  const byBinding = new Map<string, string>();
  const prune = (now: number) => {
    for (const [id, a] of byId) {
      if (forgetAt(a) > now) continue;
      byId.delete(id);
      if (byBinding.get(a.binding) === id) byBinding.delete(a.binding);
    }
  };
  return {
    kind: 'memory',
    async open(request, now) {
      prune(now);
      const current = byId.get(byBinding.get(request.binding) ?? '');
      if (current !== undefined && isOpen(current, now)) return { approval: asSeen(current, now), created: false };
      const approval: Approval = { ...request, state: 'pending' };
      byId.set(approval.id, approval);
      byBinding.set(approval.binding, approval.id);
      return { approval, created: true };
    },
    async get(id, now) {
      const a = byId.get(id);
      return a === undefined || forgetAt(a) <= now ? undefined : asSeen(a, now);
    },
    async decide(id, decision, by, now, note) {
      const a = byId.get(id);
      if (a === undefined) return { ok: false };
      if (stateAt(a, now) !== 'pending') return { ok: false, approval: asSeen(a, now) };
      const decided: Approval = {
        ...a,
        state: decision,
        decidedBy: by,
        decidedAt: now,
        ...(note === undefined ? {} : { note }),
        ...(decision === 'approved' ? { usableUntil: now + a.validMs } : {}),
      };
      byId.set(id, decided);
      return { ok: true, approval: decided };
    },
    async use(id, binding, now) {
      const a = byId.get(id);
      if (a === undefined || a.binding !== binding || stateAt(a, now) !== 'approved') return undefined;
      const used: Approval = { ...a, state: 'used', usedAt: now };
      byId.set(id, used);
      return used;
    },
    async list(now) {
      prune(now);
      return [...byId.values()].map((a) => asSeen(a, now)).sort((x, y) => y.createdAt - x.createdAt);
    },
    ping: async () => {},
    close: async () => {},
  };
}
