import type { McpContext, McpDeps, McpStage } from '../doors/mcp/context.js';
import { deny } from '../pipeline/decision.js';
import type { AuditRecord } from './record.js';
import { auditRecordOf } from './stage.js';

/**
 * The audit stages of the MCP door: one record per MCP request (door `mcp`), with the JSON-RPC
 * method, the tool, resource or prompt asked for, the source that served it, the argument digest,
 * the decision and the result status. Same durability rules as the HTTP door: every answer waits for its record
 * to be written, calls that may change data also wait for the fsync.
 */

/**
 * True when the request may change data: a `tools/call`, unless the operator declared the tool
 * read-only: a config-declared tool marked `readOnlyHint` (the operator wrote that annotation),
 * or an upstream tool listed in `upstreams[].readOnlyTools` (an upstream server's own
 * annotations are not trusted for this). Protocol messages change nothing behind the gateway.
 */
export function mcpChangesData(ctx: McpContext): boolean {
  const tool = ctx.mcp.tool;
  if (tool === undefined) return false;
  if (tool.source.kind === 'http') return tool.definition.annotations?.readOnlyHint !== true;
  return tool.source.readsOnly?.(tool.definition.name) !== true;
}

/**
 * audit gate (MCP): while the last audit write failed, a call that may change data gets 503
 * (fail closed); anything else follows `audit.onFailureForReads`.
 */
export const mcpAuditGateStage: McpStage = (ctx, deps) => {
  if (deps.auditor.healthy) return undefined;
  if (mcpChangesData(ctx) || deps.config.audit.onFailureForReads === 'deny') {
    return deny(503, 'audit-unavailable', 'Service unavailable: the audit trail cannot be written', { detail: 'audit trail cannot be written' });
  }
  return undefined;
};

/** The record of one MCP request: the HTTP door's fields plus the MCP ones. Never the arguments or the result. */
export function mcpAuditRecordOf(ctx: McpContext, deps: McpDeps): AuditRecord {
  // Filled in place (not spread into a copy): this runs once per MCP request.
  const record: { -readonly [K in keyof AuditRecord]: AuditRecord[K] } = auditRecordOf(ctx, deps);
  const denied = ctx.decision !== undefined && !ctx.decision.allow;
  if (!denied && !ctx.res.headersSent && ctx.mcp.status !== undefined) record.status = ctx.mcp.status;
  record.tool = ctx.mcp.toolName;
  record.resource = ctx.mcp.resource;
  record.prompt = ctx.mcp.prompt;
  record.rpcMethod = ctx.mcp.rpcMethod;
  record.upstream = ctx.mcp.tool?.source.id ?? ctx.mcp.upstream;
  record.argsDigest = ctx.mcp.argsDigest;
  record.resultError = ctx.mcp.resultError;
  record.detail = withRelayed(record.detail, ctx.mcp.relayed);
  return record;
}

/** The detail, plus which requests were relayed to the client (`relayed sampling/createMessage x2`). */
function withRelayed(detail: string | undefined, relayed: readonly string[] | undefined): string | undefined {
  if (relayed === undefined || relayed.length === 0) return detail;
  const counts = new Map<string, number>();
  for (const m of relayed) counts.set(m, (counts.get(m) ?? 0) + 1);
  const note = `relayed to the client: ${[...counts].map(([m, n]) => (n === 1 ? m : `${m} x${n}`)).join(', ')}`;
  return detail === undefined ? note : `${detail}; ${note}`;
}

const audited = new WeakSet<McpContext>();

/**
 * audit (MCP): appends the request's record once and waits until it is written (and fsynced when
 * the request may change data and `audit.syncBeforeResponse` asks for it). Returns false when it
 * could not be written (the auditor has logged it and raised the alarm).
 */
export async function mcpAuditStage(ctx: McpContext, deps: McpDeps): Promise<boolean> {
  if (audited.has(ctx)) return true;
  audited.add(ctx);
  const mode = deps.config.audit.syncBeforeResponse;
  const durability = mode === 'all' || (mode === 'changes' && mcpChangesData(ctx)) ? 'synced' : 'written';
  try {
    await deps.auditor.record(mcpAuditRecordOf(ctx, deps), { durability });
    return true;
  } catch {
    return false;
  }
}

/**
 * May an answer be sent although its record could not be written? Only one that changes nothing,
 * and only with `audit.onFailureForReads: allow`.
 */
export function answerWithoutRecord(ctx: McpContext, deps: McpDeps): boolean {
  return !mcpChangesData(ctx) && deps.config.audit.onFailureForReads === 'allow';
}
