import type { McpContext, McpDeps, McpStage } from '../doors/mcp/context.js';
import { BEHALF_RPC } from '../doors/mcp/protocol.js';
import { allow, deny, type Decision, type Deny } from '../pipeline/decision.js';
import { promptPolicyInput, resourcePolicyInput, templatePolicyInput, type FeaturePolicyRequest } from './feature-policy.js';
import { toolPolicyInput } from './tool-listing.js';

/**
 * authorize (MCP): a `tools/call` is decided by the same policy as everything else, on the
 * identity, the tool's catalog name and the arguments from the BODY (never from the mirrored
 * headers, which resolve only checked for equality). So are the requests about what upstreams
 * serve besides tools (feature-policy.ts): `resources/read` and `resources/subscribe` on the
 * URI, `prompts/get` on the prompt and its arguments, and `completion/complete` on whether the
 * user could use the prompt or template it completes for. A protocol message that uses none of
 * these (initialize, ping, discover, lists, `logging/setLevel`, `resources/unsubscribe`,
 * notifications, responses, DELETE) needs nothing beyond the token: it is allowed with
 * `protocol-message`; lists are then filtered per item by the same policy.
 *
 * A denial reaches the client as a JSON-RPC error (HTTP 200, code -31403, the reason in the
 * message and `data.reason`) so the model can read it; a missing scope is an HTTP 403 with the
 * `insufficient_scope` challenge naming every scope the request needs, so the client can step up.
 *
 * This does NOT check that the tool, resource or prompt exists or is not blocked (resolve did)
 * nor the arguments' shape (screen and resolve did); list filtering happens where lists are built.
 */
export const mcpAuthorizeStage: McpStage = (ctx, deps) => {
  const identity = ctx.identity;
  if (identity === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'authorize ran before authenticate' });
  const tool = ctx.mcp.tool;
  const target = ctx.mcp.target;
  if (tool === undefined && (target === undefined || ctx.mcp.rpcMethod === 'resources/unsubscribe')) {
    ctx.decision = allow('protocol-message');
    return undefined;
  }
  const snapshot = ctx.mcp.snapshot;
  if (snapshot === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'authorize ran before resolve' });
  const who: FeaturePolicyRequest = { identity, ...(ctx.user === undefined ? {} : { user: ctx.user }), directory: snapshot, path: ctx.path };
  const decision = tool !== undefined ? decideTool(ctx, deps, who, tool.definition.name) : decideTarget(deps, who, target!);
  ctx.decision = decision;
  return decision.allow ? undefined : refused(ctx, decision);
};

/** The same input `tools/list` decides on (tool-listing.ts), plus the arguments as `body`. */
function decideTool(ctx: McpContext, deps: McpDeps, who: FeaturePolicyRequest, name: string): Decision {
  return deps.policy.decide(toolPolicyInput({ ...who, tool: name, arguments: ctx.mcp.args ?? {} }));
}

function decideTarget(deps: McpDeps, who: FeaturePolicyRequest, target: NonNullable<McpContext['mcp']['target']>): Decision {
  switch (target.kind) {
    case 'resource':
      return deps.policy.decide(resourcePolicyInput(who, target.uri));
    case 'prompt':
      return deps.policy.decide(promptPolicyInput(who, target.prompt.name, target.arguments));
    case 'complete-prompt':
      return deps.policy.listDecision(promptPolicyInput(who, target.prompt.name));
    case 'complete-template':
      return deps.policy.listDecision(templatePolicyInput(who, target.template.uriTemplate));
  }
}

function refused(ctx: McpContext, decision: Deny): Deny {
  ctx.mcp.errorCode = BEHALF_RPC.forbidden;
  const message = `${decision.message} (${decision.reason})`;
  return decision.reason === 'insufficient-scope' ? { ...decision, message } : { ...decision, status: 200, message };
}
