import { performance } from 'node:perf_hooks';
import type { RequestContext } from '../pipeline/context.js';
import { deny, type Deny } from '../pipeline/decision.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import { isoTime } from '../lib/iso-time.js';
import { auditString } from '../lib/printable.js';
import { argumentsPlanOf, promptPlanOf, queryPlanOf } from './keep-plan.js';
import { keepArguments, keepQuery, type Kept } from './kept-values.js';
import type { AuditRecord } from './record.js';
import { redactPath } from './redact.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * True when the request may change data behind the gateway: it then fails closed when the audit
 * trail cannot be written, and (with `audit.syncBeforeResponse: changes`) waits for the fsync.
 * A route request unless its method is safe; a tool call unless the operator declared the tool
 * read-only (a config tool annotated `readOnlyHint` by the operator who wrote it, or an upstream
 * tool listed in `upstreams[].readOnlyTools`; an upstream's own annotations are not trusted for
 * this). Nothing else changes data: reading a resource or a prompt, and protocol messages.
 */
export function changesData(ctx: RequestContext): boolean {
  const target = ctx.target;
  if (target === undefined || target.kind === 'route') return !SAFE_METHODS.has(ctx.method);
  if (target.kind !== 'tool') return false;
  const tool = target.tool;
  if (tool === undefined) return false;
  if (tool.source.kind === 'http') return tool.definition.annotations?.readOnlyHint !== true;
  return tool.source.readsOnly?.(tool.definition.name) !== true;
}

/**
 * The audit gate for a request that changes nothing, at the start of forward: while the last
 * audit write failed, it follows `audit.onFailureForReads` (`deny`: 503).
 */
export function readGate(deps: PipelineDeps): Deny | undefined {
  if (deps.auditor.healthy || deps.config.audit.onFailureForReads !== 'deny') return undefined;
  return deny(503, 'audit-unavailable', 'service unavailable', { detail: 'audit trail cannot be written' });
}

/**
 * The audit gate for a request that changes data, at the start of forward: its intent record
 * (who, what, the decision, the body or arguments digest) is written before anything reaches the
 * backend, at the durability `audit.syncBeforeResponse` gives changes (fsynced unless `none`).
 * If it cannot be written the request is refused (503 `audit-unavailable`) and the backend
 * never sees it. While the trail is failing, one change at a time tries to write its intent (the
 * probe that finds the store back); the others are refused at once. Once it is written, the request's final record is its outcome, and the answer
 * goes out even if the outcome cannot be written: the client is never told "not done" about a
 * change that was done, and `audit verify` lists the intent without an outcome.
 */
export async function recordIntent(ctx: RequestContext, deps: PipelineDeps): Promise<Deny | undefined> {
  const auditor = deps.auditor;
  const probe = !auditor.healthy;
  if (probe) {
    // While the trail is failing, one change at a time tries it (a store that times out must
    // not hold every change for its timeout); the others are refused at once.
    if (probing.has(auditor)) return deny(503, 'audit-unavailable', 'service unavailable', { detail: 'audit trail cannot be written' });
    probing.add(auditor);
  }
  const durability = deps.config.audit.syncBeforeResponse === 'none' ? 'written' : 'synced';
  try {
    await auditor.record({ ...auditRecordOf(ctx, deps), status: 0, phase: 'intent' }, { durability });
  } catch {
    return deny(503, 'audit-unavailable', 'service unavailable', { detail: 'intent record could not be written' });
  } finally {
    if (probe) probing.delete(auditor);
  }
  ctx.intent = true;
  return undefined;
}

/** Auditors whose failing trail a change is trying right now (see recordIntent). */
const probing = new WeakSet<object>();

/** Longest resource URI or prompt name kept in the record, characters (tool names: 128). */
const MAX_SHOWN_URI = 512;
const MAX_SHOWN_NAME = 128;

/**
 * What the record keeps of the request's arguments or query (kept-values.ts), from what the door
 * and screen(in) already parsed: a tool call's or prompt's arguments, a route's canonical query.
 */
function keptOf(ctx: RequestContext, deps: PipelineDeps): Kept | undefined {
  const target = ctx.target;
  switch (target?.kind) {
    case 'tool':
      return keepArguments(target.arguments, argumentsPlanOf(deps.config, target.tool));
    case 'prompt':
      return keepArguments(target.arguments, promptPlanOf(deps.config));
    case 'route':
      return keepQuery(ctx.query, queryPlanOf(deps.config, target.route));
    default:
      return undefined;
  }
}

/**
 * Builds the record of a finished (or finishing) request: never a token, never a body; of tool
 * arguments and the query, their digest and what the tool's or route's audit setting keeps
 * (bounded, credentials digested). Always the same object shape (absent fields are
 * `undefined`, which the chain and JSON skip): one hidden class for every record keeps this
 * cheap on the hot path.
 */
export function auditRecordOf(ctx: RequestContext, deps: PipelineDeps): AuditRecord {
  const d = ctx.decision;
  const id = ctx.identity;
  const target = ctx.target;
  const denied = d !== undefined && !d.allow;
  const status = ctx.res.headersSent ? ctx.res.statusCode : (ctx.status ?? (denied ? d.status : ctx.res.statusCode));
  const kept = keptOf(ctx, deps);
  const isRoute = target?.kind === 'route';
  return {
    time: ctx.time,
    requestId: ctx.requestId,
    door: ctx.door,
    route: ctx.route?.id,
    tool: target?.kind === 'tool' ? auditString(target.name, MAX_SHOWN_NAME) : undefined,
    method: ctx.method,
    path: redactPath(ctx.path + ctx.search, deps.config.audit.includeQueryValues),
    user: id?.id,
    tenant: id?.tenant,
    client: id?.client,
    issuer: id?.issuer,
    decision: d?.allow === true ? 'allow' : 'deny',
    reason: d?.reason ?? 'internal-error',
    ruleId: d?.ruleId,
    status,
    upstreamStatus: ctx.upstreamStatus,
    latencyMs: Math.round((performance.now() - ctx.startedAt) * 1000) / 1000,
    bytesIn: ctx.bytesIn,
    bytesOut: ctx.bytesOut,
    bodyDigest: ctx.body === undefined ? undefined : ctx.bodyDigest,
    detail: withApproval(withRelayed(denied && d.detail !== undefined ? d.detail : ctx.detail, ctx.relayed), ctx.approval),
    rpcMethod: ctx.operation,
    upstream: (target?.kind === 'tool' ? target.tool?.source.id : undefined) ?? ctx.backend,
    resource: resourceOf(target),
    prompt: promptOf(target),
    argsDigest: ctx.argumentsDigest,
    resultError: ctx.resultError,
    phase: ctx.intent ? 'outcome' : undefined,
    traceId: ctx.trace.traceId,
    spanId: ctx.trace.spanId,
    parentSpanId: ctx.trace.parentSpanId,
    endTime: isoTime(deps.now()),
    session: ctx.session,
    args: isRoute ? undefined : kept?.values,
    query: isRoute ? kept?.values : undefined,
    omitted: kept?.omitted,
  };
}

function resourceOf(target: RequestContext['target']): string | undefined {
  if (target?.kind === 'resource') return auditString(target.uri, MAX_SHOWN_URI);
  if (target?.kind === 'completion' && target.ref.kind === 'template') return auditString(target.ref.uri, MAX_SHOWN_URI);
  return undefined;
}

function promptOf(target: RequestContext['target']): string | undefined {
  if (target?.kind === 'prompt') return auditString(target.name, MAX_SHOWN_URI);
  if (target?.kind === 'completion' && target.ref.kind === 'prompt') return auditString(target.ref.name, MAX_SHOWN_URI);
  return undefined;
}

/** The detail, plus which requests were relayed to the client (`relayed sampling/createMessage x2`). */
/** The approval a request used, first in its detail: `approval <id> granted by <approver>`. */
function withApproval(detail: string | undefined, approval: RequestContext['approval']): string | undefined {
  if (approval === undefined) return detail;
  const note = `approval ${approval.id} granted by ${approval.by}`;
  return detail === undefined ? note : `${note}; ${detail}`;
}

function withRelayed(detail: string | undefined, relayed: readonly string[] | undefined): string | undefined {
  if (relayed === undefined || relayed.length === 0) return detail;
  const counts = new Map<string, number>();
  for (const m of relayed) counts.set(m, (counts.get(m) ?? 0) + 1);
  const note = `relayed to the client: ${[...counts].map(([m, n]) => (n === 1 ? m : `${m} x${n}`)).join(', ')}`;
  return detail === undefined ? note : `${detail}; ${note}`;
}

/**
 * audit: appends the request's one record and waits until it is written (and, per
 * `audit.syncBeforeResponse`, fsynced when the request may change data). Idempotent per request:
 * forward calls it before it finishes a streamed response, the runner for everything else.
 * Returns false when the record could not be written (the auditor logs it and raises the alarm
 * metric).
 */
export async function auditStage(ctx: RequestContext, deps: PipelineDeps): Promise<boolean> {
  if (ctx.recorded) return true;
  ctx.recorded = true;
  const mode = deps.config.audit.syncBeforeResponse;
  const durability = mode === 'all' || (mode === 'changes' && changesData(ctx)) ? 'synced' : 'written';
  try {
    await deps.auditor.record(auditRecordOf(ctx, deps), { durability });
    return true;
  } catch {
    return false;
  }
}

/**
 * May an answer go out although its record could not be written? One whose intent record was
 * written (the change may have been made: the client gets the truth, the trail has the intent),
 * and one that changes nothing with `audit.onFailureForReads: allow` (the alarm is raised either
 * way).
 */
export function mayAnswerWithoutRecord(ctx: RequestContext, deps: PipelineDeps): boolean {
  return ctx.intent || (!changesData(ctx) && deps.config.audit.onFailureForReads === 'allow');
}

/** Writes the record before a streamed answer is finished; false when the answer must be cut short. */
export async function recordBeforeAnswer(ctx: RequestContext, deps: PipelineDeps): Promise<boolean> {
  return (await auditStage(ctx, deps)) || mayAnswerWithoutRecord(ctx, deps);
}
