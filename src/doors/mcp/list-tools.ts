import type { Deny } from '../../pipeline/decision.js';
import type { CatalogTool, ToolDefinition } from '../../tools/types.js';
import { answer } from './answer.js';
import type { ListInput, McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { listPage, offsetOf } from './list-page.js';
import { RPC } from './protocol.js';
import { rpcDeny } from './respond.js';

/**
 * `tools/list`: the catalog's tools that this caller may call, in catalog order (deterministic,
 * so clients and prompt caches can reuse it), a page at a time. Blocked tools (changed since
 * pinned) are left out for everyone; the rest go through the same policy as `tools/call`
 * (`canList`), so a listed tool is callable and a hidden one is not. The list differs per user,
 * so the stateless revision marks it `cacheScope: private`.
 */
export function listTools(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Deny | undefined {
  const offset = offsetOf(params['cursor']);
  if (offset === undefined) return rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: invalid cursor');
  const input: ListInput = {
    identity: ctx.identity!,
    ...(ctx.user === undefined ? {} : { user: ctx.user }),
    directory: ctx.directory!,
    method: ctx.method,
    path: ctx.path,
  };
  const visible: CatalogTool[] = [];
  for (const tool of deps.catalog.list()) {
    if (tool.pin !== 'blocked' && deps.canList(tool, input)) visible.push(tool);
  }
  const result = listPage(ctx, 'tools', visible, offset, deps.pageSize, (t) => wireTool(t.definition));
  ctx.detail = `listed ${(result['tools'] as unknown[]).length} of ${visible.length} visible tools (catalog ${deps.catalog.list().length})`;
  return answer(ctx, result);
}

/** A tool as the client sees it: only the fields MCP defines, copied from the definition. */
export function wireTool(d: ToolDefinition): Record<string, unknown> {
  const tool: Record<string, unknown> = { name: d.name };
  if (d.title !== undefined) tool['title'] = d.title;
  if (d.description !== undefined) tool['description'] = d.description;
  tool['inputSchema'] = d.inputSchema;
  if (d.outputSchema !== undefined) tool['outputSchema'] = d.outputSchema;
  if (d.annotations !== undefined) tool['annotations'] = d.annotations;
  return tool;
}
