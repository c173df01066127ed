import { promptPolicyInput, resourcePolicyInput, templatePolicyInput, type FeaturePolicyRequest } from '../../authorize/feature-policy.js';
import { EMPTY_INDEX, type UpstreamFeatures } from '../../mcp-upstream/feature-index.js';
import type { Deny } from '../../pipeline/decision.js';
import { answer } from './answer.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { listPage, offsetOf } from './list-page.js';
import { RPC } from './protocol.js';
import { rpcDeny } from './respond.js';

/**
 * The lists of what upstreams serve besides tools, as the endpoint answers them: built from what
 * the upstreams listed, filtered per user by the policy that decides the request each item
 * offers (authorize/feature-policy.ts). Reading, getting and completing go to the upstream
 * through forward (forward/upstream-request.ts).
 */

function features(deps: McpDeps): UpstreamFeatures {
  return deps.upstreams?.features() ?? EMPTY_INDEX;
}

function who(ctx: McpContext): FeaturePolicyRequest {
  return { identity: ctx.identity!, ...(ctx.user === undefined ? {} : { user: ctx.user }), directory: ctx.directory!, path: ctx.path };
}

function badCursor(ctx: McpContext): Deny {
  return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: invalid cursor');
}

/** `resources/list`: the resources this user may read (the same `decide` as `resources/read` of each URI). */
export function listResources(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const offset = offsetOf(params['cursor']);
  if (offset === undefined) return badCursor(ctx);
  const all = features(deps).resources;
  const caller = who(ctx);
  const visible = all.filter((r) => deps.policy.decide(resourcePolicyInput(caller, r.uri)).allow);
  ctx.detail = `${visible.length} of ${all.length} resources visible`;
  return answer(ctx, listPage(ctx, 'resources', visible, offset, deps.pageSize, (r) => r.wire));
}

/** `resources/templates/list`: the templates through which this user could read something. */
export function listResourceTemplates(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const offset = offsetOf(params['cursor']);
  if (offset === undefined) return badCursor(ctx);
  const all = features(deps).templates;
  const caller = who(ctx);
  const visible = all.filter((t) => deps.policy.canList(templatePolicyInput(caller, t.uriTemplate)));
  ctx.detail = `${visible.length} of ${all.length} resource templates visible`;
  return answer(ctx, listPage(ctx, 'resourceTemplates', visible, offset, deps.pageSize, (t) => t.wire));
}

/** `prompts/list`: the prompts some `prompts/get` of this user could be allowed for. */
export function listPrompts(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const offset = offsetOf(params['cursor']);
  if (offset === undefined) return badCursor(ctx);
  const all = features(deps).prompts;
  const caller = who(ctx);
  const visible = all.filter((p) => deps.policy.canList(promptPolicyInput(caller, p.name)));
  ctx.detail = `${visible.length} of ${all.length} prompts visible`;
  return answer(ctx, listPage(ctx, 'prompts', visible, offset, deps.pageSize, (p) => p.wire));
}
