import { performance } from 'node:perf_hooks';
import type { RequestContext } from '../pipeline/context.js';
import { deny } from '../pipeline/decision.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import type { Stage } from '../pipeline/pipeline.js';
import type { AuditRecord } from './record.js';
import { redactPath } from './redact.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** True for methods that may change data: they fail closed when the audit trail cannot be written. */
export function changesData(method: string): boolean {
  return !SAFE_METHODS.has(method);
}

/**
 * audit gate: runs just before forward. While the last audit write failed, a request that changes
 * data gets 503 (fail closed); a read follows `audit.onFailureForReads`.
 */
export const auditGateStage: Stage = (ctx, deps) => {
  if (deps.auditor.healthy) return undefined;
  if (changesData(ctx.method) || deps.config.audit.onFailureForReads === 'deny') {
    return deny(503, 'audit-unavailable', 'service unavailable', { detail: 'audit trail cannot be written' });
  }
  return undefined;
};

/**
 * Builds the record for a finished (or finishing) request: never a token, never a body. Always
 * the same object shape (absent fields are `undefined`, which the chain and JSON skip): one
 * hidden class for every record keeps this cheap on the hot path.
 */
export function auditRecordOf(ctx: RequestContext, deps: PipelineDeps): AuditRecord {
  const d = ctx.decision;
  const id = ctx.identity;
  const status = ctx.res.headersSent ? ctx.res.statusCode : d !== undefined && !d.allow ? d.status : ctx.res.statusCode;
  return {
    time: ctx.time,
    requestId: ctx.requestId,
    door: ctx.door,
    route: ctx.route?.id,
    tool: undefined,
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
    detail: d?.allow === false && d.detail !== undefined ? d.detail : ctx.detail,
  };
}

const audited = new WeakSet<RequestContext>();

/**
 * audit: appends one record per request and waits until it is written (and, per
 * `audit.syncBeforeResponse`, fsynced). Idempotent per request (forward calls it before finishing
 * the response; the pipeline calls it for denials). Returns false when the record could not be
 * written (the auditor logs it and raises the alarm metric).
 */
export async function auditStage(ctx: RequestContext, deps: PipelineDeps): Promise<boolean> {
  if (audited.has(ctx)) return true;
  audited.add(ctx);
  const record = auditRecordOf(ctx, deps);
  const mode = deps.config.audit.syncBeforeResponse;
  const durability = mode === 'all' || (mode === 'changes' && changesData(ctx.method)) ? 'synced' : 'written';
  try {
    await deps.auditor.record(record, { durability });
    return true;
  } catch {
    // The auditor has logged it and raised the alarm (metrics hook in gateway.ts).
    return false;
  }
}
