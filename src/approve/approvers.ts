import type { DirectoryEntry, Identity } from '../authenticate/identity.js';
import type { RuleApproval } from '../config/schema.js';
import type { Approval, ApproverSet } from '../stores/types.js';

/**
 * Who may decide a request of `requester`, under `rule`: its users, the requester's manager from
 * the directory (`entry`) when the rule asks for them, and its roles and groups. The requester
 * is never among the users. Fixed when the approval is requested, so a later directory change
 * neither adds nor removes an approver of a request already waiting.
 */
export function approverSetFor(rule: RuleApproval, requester: string, entry: DirectoryEntry | undefined): ApproverSet {
  const users = new Set(rule.approvers.users);
  if (rule.approvers.manager && entry?.manager !== undefined) users.add(entry.manager);
  users.delete(requester);
  return { users: [...users], roles: [...rule.approvers.roles], groups: [...rule.approvers.groups] };
}

/** Whether anybody can decide: a set with no user, role or group leaves the request with nobody to ask. */
export function hasApprovers(set: ApproverSet): boolean {
  return set.users.length > 0 || set.roles.length > 0 || set.groups.length > 0;
}

/**
 * Whether `who` may approve or deny `approval`: never the requester (nobody approves their own
 * request, whatever roles they hold), else a listed user, or anyone whose verified token carries
 * one of the roles or groups.
 *
 * This does NOT verify `who`: the caller passes an identity from a verified token.
 */
export function mayDecide(approval: Approval, who: Pick<Identity, 'id' | 'roles' | 'groups'>): boolean {
  if (who.id === approval.user) return false;
  const set = approval.approvers;
  return set.users.includes(who.id) || who.roles.some((r) => set.roles.includes(r)) || who.groups.some((g) => set.groups.includes(g));
}

/** The approvers of `set`, for people: `dana, role hr-admin, group people-ops`. */
export function describeApprovers(set: ApproverSet): string {
  return [...set.users, ...set.roles.map((r) => `role ${r}`), ...set.groups.map((g) => `group ${g}`)].join(', ');
}
