import { canonicalJson } from '../../lib/canonical-json.js';
import { bodyDigest } from '../../lib/digest.js';
import { MAX_URI_LENGTH } from '../../mcp-upstream/features.js';
import { EMPTY_INDEX } from '../../mcp-upstream/feature-index.js';
import type { Deny } from '../../pipeline/decision.js';
import type { McpContext, McpDeps } from './context.js';
import { isObject } from './jsonrpc.js';
import { RPC } from './protocol.js';
import { rpcDeny } from './respond.js';

/**
 * resolve (MCP), for what upstreams serve besides tools: which upstream serves the resource, the
 * prompt or the completion a request names, by exact URI, template or name. Unknown ones are
 * refused here (`-32002` for a resource, `-32602` for a prompt or a completion reference), before
 * policy, as an unknown tool is.
 */

/** JSON-RPC code of "Resource not found" (MCP). */
export const RESOURCE_NOT_FOUND = -32002;

/** Longest resource URI or prompt name kept in the audit record, characters. */
const MAX_SHOWN = 512;

/**
 * A URI an upstream could read as another one: characters outside visible ASCII, a backslash, a
 * `.` or `..` path segment, or an encoded `.`, `/`, `\` or NUL. Only a URI an upstream listed
 * exactly is exempt: it is what the upstream itself named. A URI that only matches a template
 * must not be one policy sees as `hr://reviews/../salaries/x` and an upstream as
 * `hr://salaries/x`.
 */
export function unsafeUri(uri: string): boolean {
  if (!/^[\x21-\x7e]+$/.test(uri) || uri.includes('\\')) return true;
  if (/%(2e|2f|5c|00)/i.test(uri)) return true;
  const path = uri.replace(/[?#].*$/s, '');
  return path.split('/').some((segment, i) => i > 0 && (segment === '.' || segment === '..'));
}

/** Resolves `resources/read`, `resources/subscribe` or `resources/unsubscribe`. */
export function resolveResource(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const uri = params['uri'];
  if (typeof uri !== 'string' || uri === '') return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: uri must be a non-empty string');
  ctx.mcp.resource = printable(uri);
  if (uri.length > MAX_URI_LENGTH) return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: uri is too long');
  const owner = (deps.upstreams?.features() ?? EMPTY_INDEX).ownerOf(uri);
  if (owner !== undefined && !owner.listed && unsafeUri(uri)) {
    return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: the resource URI cannot be served safely', { detail: 'URI with dot segments, encoded separators or non-ASCII characters' });
  }
  // Letting go of a URI no upstream serves any more is still letting go (subscriptions.ts).
  if (owner === undefined && ctx.mcp.rpcMethod === 'resources/unsubscribe') return undefined;
  if (owner === undefined) return rpcDeny(ctx, 200, 'route-not-found', RESOURCE_NOT_FOUND, 'Resource not found', { data: { uri: ctx.mcp.resource }, detail: 'no upstream lists the URI or a template that produces it' });
  ctx.mcp.target = { kind: 'resource', uri, upstream: owner.upstream };
  return undefined;
}

/** Resolves `prompts/get`: the prompt by exact (namespaced) name, and its arguments (a map of strings). */
export function resolvePrompt(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const name = params['name'];
  if (typeof name !== 'string') return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: name must be a string');
  ctx.mcp.prompt = printable(name);
  const args = params['arguments'] ?? {};
  if (!isObject(args) || !Object.values(args).every((v) => typeof v === 'string')) {
    return rpcDeny(ctx, 200, 'invalid-arguments', RPC.invalidParams, 'Invalid params: prompt arguments must be an object of strings');
  }
  const prompt = deps.upstreams?.features().prompt(name);
  if (prompt === undefined) return rpcDeny(ctx, 200, 'route-not-found', RPC.invalidParams, `Unknown prompt: ${ctx.mcp.prompt}`, { detail: 'no such prompt' });
  ctx.mcp.target = { kind: 'prompt', prompt, arguments: args as Record<string, string> };
  ctx.mcp.argsDigest = bodyDigest(canonicalJson(args));
  return undefined;
}

/**
 * Resolves `completion/complete`: `ref` names a prompt (`ref/prompt`, by namespaced name) or a
 * resource template (`ref/resource`, by its exact `uriTemplate`); `argument` has a string `name`
 * and `value`.
 */
export function resolveCompletion(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const ref = params['ref'];
  const argument = params['argument'];
  if (!isObject(ref) || !isObject(argument) || typeof argument['name'] !== 'string' || typeof argument['value'] !== 'string') {
    return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: ref and argument { name, value } are required');
  }
  const features = deps.upstreams?.features() ?? EMPTY_INDEX;
  if (ref['type'] === 'ref/prompt' && typeof ref['name'] === 'string') {
    ctx.mcp.prompt = printable(ref['name']);
    const prompt = features.prompt(ref['name']);
    if (prompt === undefined) return rpcDeny(ctx, 200, 'route-not-found', RPC.invalidParams, `Unknown prompt: ${ctx.mcp.prompt}`, { detail: 'no such prompt' });
    ctx.mcp.target = { kind: 'complete-prompt', prompt };
    return undefined;
  }
  if (ref['type'] === 'ref/resource' && typeof ref['uri'] === 'string') {
    ctx.mcp.resource = printable(ref['uri']);
    const template = features.template(ref['uri']);
    if (template === undefined) return rpcDeny(ctx, 200, 'route-not-found', RPC.invalidParams, `Unknown resource template: ${ctx.mcp.resource}`, { detail: 'no such template' });
    ctx.mcp.target = { kind: 'complete-template', template };
    return undefined;
  }
  return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: ref must be a ref/prompt with a name or a ref/resource with a uri');
}

/** A client-chosen string as the audit record keeps it: bounded, printable ASCII. */
function printable(value: string): string {
  return value.slice(0, MAX_SHOWN).replace(/[^\x20-\x7e]/g, '?');
}
