import { randomBytes } from 'node:crypto';
import type { RuleApproval } from '../config/schema.js';
import { isBehalfError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';
import { deny, type Deny } from '../pipeline/decision.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import type { Stage } from '../pipeline/stage.js';
import type { Approval, ApprovalRequest } from '../stores/types.js';
import { boundRequest, type BoundRequest } from './approval-binding.js';
import type { Approvals } from './approvals.js';
import { approverSetFor, describeApprovers, hasApprovers } from './approvers.js';

/** An approval id the client sends back: what the gateway hands out (22 base64url characters), nothing else. */
const APPROVAL_ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * approve: a request allowed by a rule with an `approval` block waits for a person
 * (docs/approvals.md). The approval is bound to the exact request (approval-binding.ts); the
 * first time, the request is refused with 403 `approval-required` naming the approval, and the
 * approvers are told; once an approver said yes, the same request (the same user, client, tool
 * or route, arguments or body; on any door, with or without `Behalf-Approval: <id>`) goes on,
 * once. Every other request passes at once, without a promise.
 *
 * Denials: `approval-required` (waiting), `approval-denied` (an approver said no; the same
 * request is refused until the approval's deadline), `approval-invalid` (the `Behalf-Approval`
 * id is unknown, for another request, used or expired), `approver-missing` (the rule names only
 * the manager and the requester has none), all 403; `approval-unavailable` (the store cannot be
 * reached), 503: fail closed.
 *
 * This does NOT decide who may approve (admin API and approvers.ts do), and does NOT hold the
 * connection open while a person decides: the client retries.
 */
export const approveStage: Stage = (ctx, deps) => {
  const approvals = deps.approvals;
  const decision = ctx.decision;
  if (approvals === undefined || decision === undefined || !decision.allow || decision.ruleId === undefined) return undefined;
  const rule = approvals.ruleFor(decision.ruleId);
  if (rule === undefined) return undefined;
  return hold(ctx, deps, approvals, rule, decision.ruleId).catch((err: unknown) => {
    if (!isBehalfError(err, 'approval-store-failed')) throw err;
    return deny(503, 'approval-unavailable', 'approvals cannot be checked right now; try again', { headers: { 'retry-after': '1' }, detail: err.message });
  });
};

async function hold(ctx: RequestContext, deps: PipelineDeps, approvals: Approvals, rule: RuleApproval, ruleId: string): Promise<Deny | undefined> {
  const bound = boundRequest(ctx);
  if (bound === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'approve ran before screen-in digested the request' });
  const now = deps.now();
  const header = ctx.req.headers['behalf-approval'];
  if (header !== undefined) {
    // One id, as handed out; a list or anything else is refused before any lookup.
    if (typeof header !== 'string' || !APPROVAL_ID.test(header)) return deny(400, 'bad-request', 'Behalf-Approval must be one approval id', { detail: 'malformed Behalf-Approval header' });
    const offered = await approvals.store.get(header, now);
    if (offered === undefined) return invalid(header, 'no such approval (unknown, or forgotten an hour after it ended)');
    if (offered.binding !== bound.binding) return invalid(header, `approval ${header} is for another request (${offered.target} by ${offered.user})`);
    return settle(ctx, approvals, offered, bound, now, false);
  }
  const identity = ctx.identity!;
  const approvers = approverSetFor(rule, identity.id, ctx.user);
  if (!hasApprovers(approvers)) {
    return deny(403, 'approver-missing', 'this request needs an approval, but nobody can approve it for you', { ruleId, detail: `rule ${ruleId} names the manager; the directory gives ${identity.id} none` });
  }
  const request: ApprovalRequest = {
    id: randomBytes(16).toString('base64url'),
    binding: bound.binding,
    ruleId,
    user: identity.id,
    ...(identity.client === undefined ? {} : { client: identity.client }),
    target: bound.target,
    ...(bound.arguments === undefined ? {} : { arguments: bound.arguments }),
    ...(rule.reason === undefined ? {} : { reason: rule.reason }),
    approvers,
    createdAt: now,
    expiresAt: now + rule.timeoutSeconds * 1_000,
    validMs: rule.validSeconds * 1_000,
  };
  const { approval, created } = await approvals.store.open(request, now);
  if (created) approvals.announce(approval);
  return settle(ctx, approvals, approval, bound, now, created);
}

/** What the request gets, given the approval that answers for it. */
async function settle(ctx: RequestContext, approvals: Approvals, a: Approval, bound: BoundRequest, now: number, created: boolean): Promise<Deny | undefined> {
  const url = approvals.urlFor(a.id);
  const approval = { id: a.id, expiresAt: new Date(a.state === 'approved' ? (a.usableUntil ?? a.expiresAt) : a.expiresAt).toISOString(), ...(url === undefined ? {} : { url }) };
  const extra = { ruleId: a.ruleId, headers: { 'behalf-approval': a.id }, approval };
  switch (a.state) {
    case 'approved': {
      const used = await approvals.store.use(a.id, bound.binding, now);
      if (used === undefined) return invalid(a.id, `approval ${a.id} was used by another request just now`);
      ctx.approval = { id: a.id, by: a.decidedBy ?? 'unknown' };
      approvals.count('used');
      return undefined;
    }
    case 'pending': {
      const where = url === undefined ? `they decide with: behalf approvals approve ${a.id}` : `they decide at ${url}`;
      const message = `This needs a person's approval${a.reason === undefined ? '' : ` (${a.reason})`}. Approval ${a.id} is waiting for ${describeApprovers(a.approvers)}; ${where}. Send the same request again once it is approved.`;
      return deny(403, 'approval-required', message, { ...extra, detail: `approval ${a.id} ${created ? 'requested' : 'still waiting'}` });
    }
    case 'denied':
      return deny(403, 'approval-denied', `An approver refused this request${a.note === undefined ? '' : `: ${a.note}`}.`, { ...extra, detail: `approval ${a.id} refused by ${a.decidedBy ?? 'unknown'}` });
    case 'used':
      return invalid(a.id, `approval ${a.id} was already used; the request needs a new one`);
    case 'expired':
      return invalid(a.id, `approval ${a.id} expired`);
  }
}

function invalid(id: string, detail: string): Deny {
  return deny(403, 'approval-invalid', 'The approval sent does not allow this request (unknown, for another request, used or expired). Send the request without it to ask for a new one.', {
    headers: { 'behalf-approval': id },
    detail,
  });
}
