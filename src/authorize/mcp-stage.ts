import type { McpStage } from '../doors/mcp/context.js';
import { BEHALF_RPC } from '../doors/mcp/protocol.js';
import { allow, deny } from '../pipeline/decision.js';
import { toolPolicyInput } from './tool-listing.js';

/**
 * authorize (MCP): a `tools/call` is decided by the same policy as everything else, on the
 * identity, the tool's catalog name and the arguments from the BODY (never from the mirrored
 * headers, which resolve only checked for equality). A protocol message that calls no tool
 * (initialize, ping, discover, list, notifications, DELETE) needs nothing beyond the token: it
 * is allowed with `protocol-message`; `tools/list` is then filtered per tool by the same policy.
 *
 * A denial reaches the client as a JSON-RPC error (HTTP 200, code -31403, the reason in the
 * message and `data.reason`) so the model can read it; a missing scope is an HTTP 403 with the
 * `insufficient_scope` challenge naming every scope the call needs, so the client can step up.
 *
 * This does NOT check that the tool exists or is not blocked (resolve did) nor its arguments'
 * shape (screen did); `tools/list` filtering happens where the list is built.
 */
export const mcpAuthorizeStage: McpStage = (ctx, deps) => {
  const identity = ctx.identity;
  if (identity === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'authorize ran before authenticate' });
  const tool = ctx.mcp.tool;
  if (tool === undefined) {
    ctx.decision = allow('protocol-message');
    return undefined;
  }
  const snapshot = ctx.mcp.snapshot;
  if (snapshot === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'authorize ran before resolve' });
  // The same input `tools/list` decides on (tool-listing.ts), plus the arguments as `body`.
  const decision = deps.policy.decide(
    toolPolicyInput({
      identity,
      ...(ctx.user === undefined ? {} : { user: ctx.user }),
      directory: snapshot,
      path: ctx.path,
      tool: tool.definition.name,
      arguments: ctx.mcp.args ?? {},
    }),
  );
  ctx.decision = decision;
  if (decision.allow) return undefined;
  ctx.mcp.errorCode = BEHALF_RPC.forbidden;
  const message = `${decision.message} (${decision.reason})`;
  return decision.reason === 'insufficient-scope' ? { ...decision, message } : { ...decision, status: 200, message };
};
