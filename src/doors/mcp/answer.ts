import { answerWithoutRecord, mcpAuditStage } from '../../audit/mcp-stage.js';
import { deny, type Deny } from '../../pipeline/decision.js';
import type { McpContext, McpDeps } from './context.js';
import { resultMessage } from './jsonrpc.js';
import { META, SERVER_INFO } from './protocol.js';
import { sendEmpty, sendFinal, SseStream } from './respond.js';

/**
 * How an allowed request is answered: the record first, then the answer. A response the client
 * sees as complete always has its record; if the record cannot be written, the answer is
 * replaced by a 503 (or sent anyway for a read, with `audit.onFailureForReads: allow`).
 */

/** The stateless revision's per-result fields: `resultType` and the server's identity. Legacy results go out as they are. */
export function forEra(ctx: McpContext, result: Record<string, unknown>): Record<string, unknown> {
  if (ctx.mcp.era !== 'modern') return result;
  return { resultType: 'complete', ...result, _meta: { [META.serverInfo]: SERVER_INFO } };
}

/** Audits, then sends `result` as the response to the request (JSON, or the last event of the stream). */
export async function answer(ctx: McpContext, deps: McpDeps, result: Record<string, unknown>, extraHeaders?: Record<string, string>): Promise<Deny | undefined> {
  const id = ctx.mcp.rpcId;
  if (id === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'answer without a request id' });
  const json = resultMessage(id, forEra(ctx, result));
  ctx.mcp.status = 200;
  ctx.bytesOut = (ctx.mcp.sse?.bytes ?? 0) + Buffer.byteLength(json);
  const refused = await recordFirst(ctx, deps);
  if (refused !== undefined) return refused;
  // A client that takes only event streams gets its answer as a one-event stream.
  if (ctx.mcp.sse === undefined && !ctx.mcp.accepts.json) ctx.mcp.sse = new SseStream(ctx.res, ctx.requestId, extraHeaders);
  ctx.bytesOut = sendFinal(ctx, 200, json, extraHeaders);
  countAllowed(ctx, deps);
  return undefined;
}

/** Audits, then answers with no body: 202 for a notification or a response, 204 for a DELETE. */
export async function acknowledge(ctx: McpContext, deps: McpDeps, status: 202 | 204): Promise<Deny | undefined> {
  ctx.mcp.status = status;
  const refused = await recordFirst(ctx, deps);
  if (refused !== undefined) return refused;
  sendEmpty(ctx, status);
  countAllowed(ctx, deps);
  return undefined;
}

/** Writes the record; a denial when it could not be and the answer must not go out without one. */
export async function recordFirst(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  if (await mcpAuditStage(ctx, deps)) return undefined;
  if (answerWithoutRecord(ctx, deps)) return undefined;
  return deny(503, 'audit-unavailable', 'Service unavailable: the audit trail cannot be written', { detail: 'audit record could not be written' });
}

/** Counts an allowed request in `behalf_requests_total`. */
export function countAllowed(ctx: McpContext, deps: McpDeps): void {
  deps.metrics.requests.inc({ door: 'mcp', route: ctx.mcp.tool?.definition.name ?? '', decision: 'allow', reason: ctx.decision?.reason ?? '' });
}
