import type { McpStage } from '../doors/mcp/context.js';
import { BEHALF_RPC } from '../doors/mcp/protocol.js';
import { deny } from '../pipeline/decision.js';
import { checkUntilClose } from './stage.js';

/**
 * limit (MCP door): the same limits for `tools/call`, keyed by the verified identity and the
 * tool's catalog name; the runaway guard compares the tool and the digest of its arguments.
 * `resources/read`, `resources/subscribe`, `prompts/get` and `completion/complete` count too,
 * with no tool: rules that match no `tools` (or `routes`) apply to them, and the runaway guard
 * compares the method and the URI or prompt (and a prompt's arguments' digest). Protocol messages
 * (initialize, ping, lists, `resources/unsubscribe`, notifications) are not counted. A refusal is
 * HTTP 429 with `Retry-After` and the RateLimit fields, and a JSON-RPC error `-31429` whose
 * message names the reason and whose `data` carries `reason`, `retryAfter` (s) and `rule`; a
 * store failure under `limits.onStoreError: deny` is 503 / `-31503`.
 *
 * This does NOT check that the tool may be called (authorize did) and reads no client header.
 */
export const mcpLimitStage: McpStage = async (ctx, deps) => {
  const limiter = deps.limiter;
  const tool = ctx.mcp.tool;
  const target = ctx.mcp.target;
  if (limiter === undefined || !limiter.active) return undefined;
  if (tool === undefined && (target === undefined || ctx.mcp.rpcMethod === 'resources/unsubscribe')) return undefined;
  const identity = ctx.identity;
  if (identity === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'limit ran before authenticate' });
  const name = tool?.definition.name;
  const what = name ?? `${ctx.mcp.rpcMethod} ${ctx.mcp.resource ?? ctx.mcp.prompt ?? ''}`;
  const verdict = await checkUntilClose(ctx.res, limiter, {
    door: 'mcp',
    identity,
    ...(name === undefined ? {} : { tool: name }),
    method: ctx.method,
    call: { what, digest: ctx.mcp.argsDigest ?? '' },
  });
  if (verdict.allow) {
    if (verdict.detail !== undefined) ctx.detail = verdict.detail;
    return undefined;
  }
  const d = verdict.decision;
  if (d.status !== 429) return { ...d, message: `Service unavailable (${d.reason})` };
  const retryAfter = Number(d.headers?.['retry-after'] ?? 1);
  ctx.mcp.errorCode = BEHALF_RPC.tooManyRequests;
  ctx.mcp.errorData = { retryAfter, ...(d.ruleId === undefined ? {} : { rule: d.ruleId }) };
  return { ...d, message: `Too many requests (${d.reason}): retry after ${retryAfter} s` };
};
