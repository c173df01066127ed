import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { mayDecide } from '../../approve/approvers.js';
import type { Approvals } from '../../approve/approvals.js';
import type { Identity } from '../../authenticate/identity.js';
import type { Authenticator } from '../../authenticate/index.js';
import { readBody } from '../../lib/read-body.js';
import type { Reason } from '../../pipeline/reasons.js';
import type { Approval, ApprovalState } from '../../stores/types.js';

/** Largest decision body, bytes. */
const MAX_BODY_BYTES = 4_096;
export const APPROVALS_PREFIX = '/admin/approvals';
const STATES: ReadonlySet<string> = new Set(['pending', 'approved', 'denied', 'used', 'expired']);

/** What an admin API route answers: status, JSON body, and what its audit record says. */
export interface AdminOutcome {
  status: number;
  body: unknown;
  reason: Reason;
  decision: 'allow' | 'deny';
  detail?: string;
  headers?: Record<string, string>;
  /** The person who made the call (a verified user token), for the audit record. */
  user?: string;
}

/** Who calls: the admin token (automation), or a person with a verified user token. */
export type AdminCaller = { kind: 'admin-token' } | { kind: 'person'; identity: Identity };

const decisionSchema = z.strictObject({
  note: z.string().min(1).max(500).regex(/^[^\x00-\x08\x0b-\x1f\x7f]*$/, 'must not contain control characters').optional(),
});

/** An approval as the API shows it: times in ISO-8601, `mayDecide` for the caller. */
export function approvalView(a: Approval, mayDecideIt: boolean) {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return {
    id: a.id,
    state: a.state,
    user: a.user,
    client: a.client,
    target: a.target,
    arguments: a.arguments,
    ruleId: a.ruleId,
    reason: a.reason,
    approvers: a.approvers,
    createdAt: iso(a.createdAt),
    expiresAt: iso(a.expiresAt),
    decidedBy: a.decidedBy,
    decidedAt: iso(a.decidedAt),
    note: a.note,
    usableUntil: iso(a.usableUntil),
    usedAt: iso(a.usedAt),
    mayDecide: mayDecideIt,
  };
}

/**
 * The approvals part of the admin API (docs/approvals.md):
 *
 * - `GET /admin/approvals[?state=pending]`: the admin token sees every approval; a person sees
 *   the ones they may decide and their own requests, newest first.
 * - `GET /admin/approvals/<id>`: one approval with the arguments it is bound to (the admin
 *   token, its requester, or one who may decide it).
 * - `POST /admin/approvals/<id>/approve` `{note?}`: a person who may decide it (approvers.ts:
 *   never the requester). The admin token cannot approve: a person must (403).
 * - `POST /admin/approvals/<id>/deny` `{note?}`: a person who may decide it, or the admin token.
 *   A decision on an approval that is no longer pending is 409 with the approval as it stands.
 *
 * The caller is authenticated by the admin API (admin-api.ts): the admin token, or a user's
 * bearer token verified like any request's (issuer, signature, audience, revocation).
 *
 * This does NOT check the approver against the directory at decision time: the approvers were
 * fixed when the request was made (the manager then), and roles and groups come from the token.
 */
export async function approvalsRoute(
  req: IncomingMessage,
  path: string,
  search: URLSearchParams,
  caller: AdminCaller,
  deps: { approvals: Approvals; auditorHealthy: () => boolean; now: () => number },
): Promise<AdminOutcome> {
  const store = deps.approvals.store;
  const person = caller.kind === 'person' ? caller.identity : undefined;
  const who = person === undefined ? {} : { user: person.id };
  const can = (a: Approval) => person !== undefined && mayDecide(a, person);
  const now = deps.now();

  if (path === APPROVALS_PREFIX) {
    if (req.method !== 'GET') return { ...methodNotAllowed('GET'), ...who };
    const state = search.get('state') ?? undefined;
    if (state !== undefined && !STATES.has(state)) return { ...badRequest(`state must be one of ${[...STATES].join(', ')}`), ...who };
    const all = await store.list(now);
    const visible = all.filter((a) => (state === undefined || a.state === state) && (person === undefined || can(a) || a.user === person.id));
    return { status: 200, body: { approvals: visible.map((a) => approvalView(a, can(a))) }, reason: 'protocol-message', decision: 'allow', detail: `listed ${visible.length} approvals`, ...who };
  }

  const [id, action, ...rest] = path.slice(APPROVALS_PREFIX.length + 1).split('/');
  if (id === undefined || id === '' || rest.length > 0 || (action !== undefined && action !== 'approve' && action !== 'deny')) {
    return { ...notFound(), ...who };
  }
  const approval = await store.get(id, now);
  if (approval === undefined) return { status: 404, body: { error: 'not-found', message: 'no such approval' }, reason: 'route-not-found', decision: 'deny', detail: 'unknown approval id', ...who };
  const seen = person === undefined || can(approval) || approval.user === person.id;

  if (action === undefined) {
    if (req.method !== 'GET') return { ...methodNotAllowed('GET'), ...who };
    if (!seen) return { ...forbidden(`approval ${approval.id}: not an approver of it`), ...who };
    return { status: 200, body: { approval: approvalView(approval, can(approval)) }, reason: 'protocol-message', decision: 'allow', detail: `read approval ${approval.id}`, ...who };
  }

  if (req.method !== 'POST') return { ...methodNotAllowed('POST'), ...who };
  const read = await readBody(req, MAX_BODY_BYTES);
  if (!read.ok) return { status: read.decision.status, body: { error: read.decision.reason, message: read.decision.message }, reason: read.decision.reason, decision: 'deny', ...who };
  let json: unknown = {};
  if (read.body !== undefined && read.body.length > 0) {
    try {
      json = JSON.parse(read.body.toString('utf8'));
    } catch {
      return { ...badRequest('the body must be JSON'), ...who };
    }
  }
  const parsed = decisionSchema.safeParse(json);
  if (!parsed.success) return { ...badRequest(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')), ...who };

  const decision: 'approved' | 'denied' = action === 'approve' ? 'approved' : 'denied';
  if (person === undefined && decision === 'approved') {
    return forbidden(`approval ${approval.id}: the admin token cannot approve; an approver signs in with their own token`);
  }
  if (person !== undefined && !can(approval)) {
    const why = approval.user === person.id ? 'nobody approves their own request' : 'not an approver of it';
    return { ...forbidden(`approval ${approval.id}: ${why}`), ...who };
  }
  if (!deps.auditorHealthy()) {
    return { status: 503, body: { error: 'audit-unavailable', message: 'the audit trail cannot be written; no decision was made' }, reason: 'audit-unavailable', decision: 'deny', headers: { 'retry-after': '1' }, ...who };
  }
  const by = person?.id ?? 'admin-token';
  const done = await store.decide(approval.id, decision, by, now, parsed.data.note);
  if (!done.ok) {
    const stands: ApprovalState | undefined = done.approval?.state;
    return {
      status: 409,
      body: { error: 'conflict', message: `the approval is ${stands ?? 'gone'}, no longer pending`, ...(done.approval === undefined ? {} : { approval: approvalView(done.approval, false) }) },
      reason: 'bad-request',
      decision: 'deny',
      detail: `approval ${approval.id} is ${stands ?? 'gone'}`,
      ...who,
    };
  }
  const a = done.approval;
  deps.approvals.count(decision);
  return {
    status: 200,
    body: { approval: approvalView(a, false) },
    reason: decision === 'approved' ? 'approval-granted' : 'approval-refused',
    decision: 'allow',
    detail: `approval ${a.id} ${decision} by ${by}: ${a.target} for ${a.user}${a.client === undefined ? '' : ` via ${a.client}`} (rule ${a.ruleId})${a.note === undefined ? '' : `; note: ${a.note}`}`.slice(0, 1_000),
    ...who,
  };
}

function methodNotAllowed(allow: string): AdminOutcome {
  return { status: 405, body: { error: 'method-not-allowed', message: `use ${allow}` }, reason: 'method-not-allowed', decision: 'deny', headers: { allow } };
}

function badRequest(message: string): AdminOutcome {
  return { status: 400, body: { error: 'bad-request', message }, reason: 'bad-request', decision: 'deny', detail: message.slice(0, 300) };
}

function forbidden(detail: string): AdminOutcome {
  return { status: 403, body: { error: 'forbidden', message: detail }, reason: 'no-matching-rule', decision: 'deny', detail };
}

function notFound(): AdminOutcome {
  return { status: 404, body: { error: 'route-not-found', message: 'not found' }, reason: 'route-not-found', decision: 'deny' };
}
