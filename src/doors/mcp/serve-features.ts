import { promptPolicyInput, resourcePolicyInput, templatePolicyInput, type FeaturePolicyRequest } from '../../authorize/feature-policy.js';
import { EMPTY_INDEX, type UpstreamFeatures } from '../../mcp-upstream/feature-index.js';
import type { Deny } from '../../pipeline/decision.js';
import { answer } from './answer.js';
import type { McpContext, McpDeps } from './context.js';
import { isObject } from './jsonrpc.js';
import { listPage, offsetOf } from './list-page.js';
import { RPC } from './protocol.js';
import { relayRequest } from './relay-request.js';
import { rpcDeny } from './respond.js';

/**
 * What upstreams serve besides tools, as the endpoint answers it: the lists (built by the door
 * from what the upstreams listed, filtered per user by the policy that decides the request each
 * item offers; see authorize/feature-policy.ts) and the requests relayed to the upstream that
 * serves the resource, prompt or template (resolve found it, authorize allowed it).
 */

function features(deps: McpDeps): UpstreamFeatures {
  return deps.upstreams?.features() ?? EMPTY_INDEX;
}

function who(ctx: McpContext): FeaturePolicyRequest {
  return { identity: ctx.identity!, ...(ctx.user === undefined ? {} : { user: ctx.user }), directory: ctx.mcp.snapshot!, path: ctx.path };
}

function badCursor(ctx: McpContext): Promise<Deny | undefined> {
  return Promise.resolve(rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: invalid cursor'));
}

/** `resources/list`: the resources this user may read (the same `decide` as `resources/read` of each URI). */
export function listResources(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Promise<Deny | undefined> {
  const offset = offsetOf(params['cursor']);
  if (offset === undefined) return badCursor(ctx);
  const all = features(deps).resources;
  const caller = who(ctx);
  const visible = all.filter((r) => deps.policy.decide(resourcePolicyInput(caller, r.uri)).allow);
  ctx.detail = `${visible.length} of ${all.length} resources visible`;
  return answer(ctx, deps, listPage(ctx, 'resources', visible, offset, deps.pageSize, (r) => r.wire));
}

/** `resources/templates/list`: the templates through which this user could read something. */
export function listResourceTemplates(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Promise<Deny | undefined> {
  const offset = offsetOf(params['cursor']);
  if (offset === undefined) return badCursor(ctx);
  const all = features(deps).templates;
  const caller = who(ctx);
  const visible = all.filter((t) => deps.policy.canList(templatePolicyInput(caller, t.uriTemplate)));
  ctx.detail = `${visible.length} of ${all.length} resource templates visible`;
  return answer(ctx, deps, listPage(ctx, 'resourceTemplates', visible, offset, deps.pageSize, (t) => t.wire));
}

/** `prompts/list`: the prompts some `prompts/get` of this user could be allowed for. */
export function listPrompts(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Promise<Deny | undefined> {
  const offset = offsetOf(params['cursor']);
  if (offset === undefined) return badCursor(ctx);
  const all = features(deps).prompts;
  const caller = who(ctx);
  const visible = all.filter((p) => deps.policy.canList(promptPolicyInput(caller, p.name)));
  ctx.detail = `${visible.length} of ${all.length} prompts visible`;
  return answer(ctx, deps, listPage(ctx, 'prompts', visible, offset, deps.pageSize, (p) => p.wire));
}

/** `resources/read`: relayed to the upstream that lists the URI (or a template producing it); `contents` as it answers them. */
export function readResource(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  const target = ctx.mcp.target;
  if (target?.kind !== 'resource') return Promise.resolve(internal(ctx));
  return relayRequest(ctx, deps, target.upstream, 'resources/read', { uri: target.uri }, (r) => ({ contents: r['contents'] }));
}

/** `prompts/get`: relayed under the upstream's own prompt name; `description` and `messages`. */
export function getPrompt(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  const target = ctx.mcp.target;
  if (target?.kind !== 'prompt') return Promise.resolve(internal(ctx));
  const { prompt } = target;
  return relayRequest(ctx, deps, prompt.upstream, 'prompts/get', { name: prompt.upstreamName, arguments: { ...target.arguments } }, (r) => ({
    ...(r['description'] === undefined ? {} : { description: r['description'] }),
    messages: r['messages'],
  }));
}

/**
 * `completion/complete`: relayed to the upstream of the prompt (under its own name) or of the
 * template, with the argument and the `context.arguments` already given (strings only).
 */
export function complete(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Promise<Deny | undefined> {
  const target = ctx.mcp.target;
  if (target?.kind !== 'complete-prompt' && target?.kind !== 'complete-template') return Promise.resolve(internal(ctx));
  const argument = params['argument'] as Record<string, unknown>;
  const sent: Record<string, unknown> = {
    ref: target.kind === 'complete-prompt' ? { type: 'ref/prompt', name: target.prompt.upstreamName } : { type: 'ref/resource', uri: target.template.uriTemplate },
    argument: { name: argument['name'], value: argument['value'] },
  };
  const given = isObject(params['context']) ? params['context']['arguments'] : undefined;
  if (isObject(given)) sent['context'] = { arguments: Object.fromEntries(Object.entries(given).filter(([, v]) => typeof v === 'string')) };
  const upstream = target.kind === 'complete-prompt' ? target.prompt.upstream : target.template.upstream;
  return relayRequest(ctx, deps, upstream, 'completion/complete', sent, (r) => ({ completion: r['completion'] }));
}

function internal(ctx: McpContext): Deny {
  return rpcDeny(ctx, 500, 'internal-error', RPC.internalError, 'internal error', { detail: 'forward ran without a resolved target' });
}
