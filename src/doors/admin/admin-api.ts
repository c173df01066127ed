import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Auditor } from '../../audit/auditor.js';
import type { AuditRecord } from '../../audit/record.js';
import type { RevocationList } from '../../authenticate/revocation-list.js';
import type { AdminConfig, RevocationConfig } from '../../config/schema.js';
import { isBehalfError } from '../../errors.js';
import { newRequestId } from '../../lib/request-id.js';
import type { Reason } from '../../pipeline/reasons.js';
import { readBody } from '../../lib/read-body.js';
import type { RevocationKind } from '../../stores/types.js';
import { sendJson } from '../http/respond.js';
import { approvalsRoute, APPROVALS_PREFIX, type AdminCaller, type AdminOutcome } from './approvals-api.js';
import type { Approvals } from '../../approve/approvals.js';
import type { Authenticator } from '../../authenticate/index.js';
import { describeRevocation, revocationOf, revocationRequestSchema, revocationView } from './revocation-input.js';

/** Largest admin request body, bytes. */
const MAX_BODY_BYTES = 16_384;
const PREFIX = '/admin/revocations';
const KINDS: ReadonlySet<string> = new Set(['user', 'client', 'token']);

/** What the admin API needs. */
export interface AdminApiDeps {
  admin: AdminConfig;
  revocation: RevocationConfig;
  revocations: RevocationList;
  auditor: Auditor;
  logger: Logger;
  /** Human approval: serves `/admin/approvals` (approvals-api.ts) when given. */
  approvals?: Approvals;
  /** Verifies the user tokens of approvers on `/admin/approvals` (the admin token works too). */
  authenticator?: Authenticator;
  /** Clock, ms since epoch. Default `Date.now`. */
  now?: () => number;
}

type Outcome = AdminOutcome;

/**
 * The admin API, served on its own listener (`admin.host:admin.port`, never the public one):
 *
 * - `GET /admin/revocations`: every revocation in force.
 * - `POST /admin/revocations` `{kind, value, issuer?, ttlSeconds?, allTokens?, reason?, by?}`:
 *   revoke a user, a client or a token (`jti`); 201. Every instance enforces it within
 *   `revocation.syncMs` (shared store).
 * - `DELETE /admin/revocations/<kind>/<value>[?issuer=<id>]`: lift one; 404 when there was none.
 *
 * Every request needs `Authorization: Bearer <admin.token>` (compared in constant time) and is
 * audited (door `admin`), including refused ones. A change is made only while the audit trail
 * can be written, and its record is fsynced before the answer.
 *
 * - `/admin/approvals...`: approvals (approvals-api.ts), for the admin token or an approver's
 *   own bearer token, verified like any request's.
 *
 * This does NOT authenticate revocation callers as users (the static token is the authority; `by` is
 * what the caller says), and does NOT rate-limit callers: keep the listener on a private interface.
 */
export function createAdminHandler(deps: AdminApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const now = deps.now ?? Date.now;
  const expected = createHash('sha256').update(deps.admin.token).digest();

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
    if (m === null) return false;
    return timingSafeEqual(createHash('sha256').update(m[1]!).digest(), expected);
  };

  const approvalsRequest = async (req: IncomingMessage, path: string, search: URLSearchParams): Promise<Outcome> => {
    const approvals = deps.approvals;
    if (approvals === undefined) return { status: 404, body: { error: 'route-not-found', message: 'not found' }, reason: 'route-not-found', decision: 'deny' };
    let caller: AdminCaller | undefined = authorized(req) ? { kind: 'admin-token' } : undefined;
    if (caller === undefined && deps.authenticator !== undefined) {
      const result = await deps.authenticator.authenticate(req);
      if (!result.ok) {
        req.resume();
        return { status: 401, body: { error: result.decision.reason, message: 'an approver\'s bearer token or the admin token is required' }, reason: result.decision.reason, decision: 'deny', headers: { 'www-authenticate': 'Bearer realm="behalf-admin"' }, ...(result.decision.detail === undefined ? {} : { detail: result.decision.detail }) };
      }
      caller = { kind: 'person', identity: result.identity };
    }
    if (caller === undefined) {
      req.resume();
      return { status: 401, body: { error: 'token-invalid', message: 'admin token required' }, reason: 'token-invalid', decision: 'deny', headers: { 'www-authenticate': 'Bearer realm="behalf-admin"' } };
    }
    return approvalsRoute(req, path, search, caller, { approvals, auditorHealthy: () => deps.auditor.healthy, now });
  };

  const route = async (req: IncomingMessage, path: string, search: URLSearchParams): Promise<Outcome> => {
    if (path === APPROVALS_PREFIX || path.startsWith(`${APPROVALS_PREFIX}/`)) return approvalsRequest(req, path, search);
    if (!authorized(req)) {
      req.resume();
      return { status: 401, body: { error: 'token-invalid', message: 'admin token required' }, reason: 'token-invalid', decision: 'deny', headers: { 'www-authenticate': 'Bearer realm="behalf-admin"' } };
    }
    if (path === PREFIX) {
      if (req.method === 'GET') {
        const list = await deps.revocations.list();
        return { status: 200, body: { revocations: list.map(revocationView) }, reason: 'protocol-message', decision: 'allow', detail: `listed ${list.length}` };
      }
      if (req.method === 'POST') return add(req);
      return methodNotAllowed('GET, POST');
    }
    if (path.startsWith(`${PREFIX}/`)) {
      if (req.method !== 'DELETE') return methodNotAllowed('DELETE');
      const [kind, ...rest] = path.slice(PREFIX.length + 1).split('/');
      let value: string;
      try {
        value = decodeURIComponent(rest.join('/'));
      } catch {
        return badRequest('the value is not valid percent-encoding');
      }
      if (kind === undefined || !KINDS.has(kind) || value === '') return badRequest('use DELETE /admin/revocations/<user|client|token>/<value>');
      const issuer = search.get('issuer') ?? undefined;
      const target = { kind: kind as RevocationKind, value, ...(issuer === undefined ? {} : { issuer }) };
      if (!deps.auditor.healthy) return auditDown();
      const removed = await deps.revocations.remove(target.kind, target.value, target.issuer);
      if (!removed) return { status: 404, body: { error: 'not-found', message: 'no such revocation' }, reason: 'route-not-found', decision: 'deny', detail: describeRevocation(target) };
      return { status: 200, body: { removed: true }, reason: 'revocation-removed', decision: 'allow', detail: describeRevocation(target) };
    }
    req.resume();
    return { status: 404, body: { error: 'route-not-found', message: 'not found' }, reason: 'route-not-found', decision: 'deny' };
  };

  const add = async (req: IncomingMessage): Promise<Outcome> => {
    const read = await readBody(req, MAX_BODY_BYTES);
    if (!read.ok) return { status: read.decision.status, body: { error: read.decision.reason, message: read.decision.message }, reason: read.decision.reason, decision: 'deny' };
    let json: unknown;
    try {
      json = JSON.parse(read.body?.toString('utf8') ?? '');
    } catch {
      return badRequest('the body must be JSON');
    }
    const parsed = revocationRequestSchema.safeParse(json);
    if (!parsed.success) return badRequest(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    if (!deps.auditor.healthy) return auditDown();
    const revocation = revocationOf(parsed.data, now(), deps.revocation.defaultTtlSeconds);
    await deps.revocations.add(revocation);
    return { status: 201, body: { revocation: revocationView(revocation) }, reason: 'revocation-added', decision: 'allow', detail: describeRevocation(revocation) };
  };

  return async (req, res) => {
    const startedAt = performance.now();
    const time = new Date(now()).toISOString();
    const requestId = newRequestId();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let outcome: Outcome;
    try {
      outcome = await route(req, path, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)));
    } catch (err) {
      const storeDown = isBehalfError(err, 'revocation-store-failed') || isBehalfError(err, 'approval-store-failed');
      deps.logger.error({ code: isBehalfError(err) ? err.code : 'internal', requestId }, 'admin request failed');
      outcome = storeDown
        ? isBehalfError(err, 'approval-store-failed')
          ? { status: 503, body: { error: 'approval-unavailable', message: 'the approval store cannot be reached' }, reason: 'approval-unavailable', decision: 'deny', headers: { 'retry-after': '1' } }
          : { status: 503, body: { error: 'revocation-unavailable', message: 'the revocation store cannot be reached' }, reason: 'revocation-unavailable', decision: 'deny', headers: { 'retry-after': '1' } }
        : { status: 500, body: { error: 'internal-error', message: 'internal error' }, reason: 'internal-error', decision: 'deny' };
    }
    if (!req.readableEnded) req.resume();
    const record: AuditRecord = {
      time,
      requestId,
      door: 'admin',
      method: req.method ?? 'GET',
      path,
      ...(outcome.user === undefined ? {} : { user: outcome.user }),
      client: 'admin-api',
      decision: outcome.decision,
      reason: outcome.reason,
      status: outcome.status,
      latencyMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
      ...(outcome.detail === undefined ? {} : { detail: outcome.detail }),
    };
    const changed = outcome.reason === 'revocation-added' || outcome.reason === 'revocation-removed' || outcome.reason === 'approval-granted' || outcome.reason === 'approval-refused';
    // A revocation is rare and grave: a warning. An approval decision is routine: info.
    if (changed) deps.logger[outcome.reason.startsWith('revocation-') ? 'warn' : 'info']({ requestId, change: outcome.reason, detail: outcome.detail }, 'changed through the admin API');
    try {
      await deps.auditor.record(record, { durability: 'synced' });
    } catch {
      if (changed) {
        deps.logger.error({ requestId, detail: outcome.detail }, 'change applied but its audit record could not be written');
        outcome = { status: 500, body: { error: 'audit-unavailable', message: 'the change was applied but could not be audited; see the gateway log' }, reason: 'audit-unavailable', decision: 'deny' };
      }
    }
    sendJson(res, outcome.status, { ...(outcome.body as object), requestId }, { 'cache-control': 'no-store', 'x-request-id': requestId, ...outcome.headers });
  };
}

function methodNotAllowed(allow: string): Outcome {
  return { status: 405, body: { error: 'method-not-allowed', message: `use ${allow}` }, reason: 'method-not-allowed', decision: 'deny', headers: { allow } };
}

function badRequest(message: string): Outcome {
  return { status: 400, body: { error: 'bad-request', message }, reason: 'bad-request', decision: 'deny', detail: message.slice(0, 300) };
}

function auditDown(): Outcome {
  return { status: 503, body: { error: 'audit-unavailable', message: 'the audit trail cannot be written; no change was made' }, reason: 'audit-unavailable', decision: 'deny', headers: { 'retry-after': '1' } };
}
