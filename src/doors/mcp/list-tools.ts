import type { Deny } from '../../pipeline/decision.js';
import type { CatalogTool, ToolDefinition } from '../../resolve/tools.js';
import { answer } from './answer.js';
import type { ListInput, McpContext, McpDeps } from './context.js';
import { RPC, TOOLS_LIST_TTL_MS } from './protocol.js';
import { rpcDeny } from './respond.js';

/**
 * `tools/list`: the catalog's tools that this caller may call, in catalog order (deterministic,
 * so clients and prompt caches can reuse it), a page at a time. Blocked tools (changed since
 * pinned) are left out for everyone; the rest go through the same policy as `tools/call`
 * (`canList`), so a listed tool is callable and a hidden one is not. The list differs per user,
 * so the stateless revision marks it `cacheScope: private`.
 */
export function listTools(ctx: McpContext, deps: McpDeps, params: Readonly<Record<string, unknown>>): Promise<Deny | undefined> {
  const offset = offsetOf(params['cursor']);
  if (offset === undefined) return Promise.resolve(rpcDeny(ctx, 200, 'bad-request', RPC.invalidParams, 'Invalid params: invalid cursor'));
  const input: ListInput = {
    identity: ctx.identity!,
    ...(ctx.user === undefined ? {} : { user: ctx.user }),
    directory: ctx.mcp.snapshot!,
    method: ctx.method,
    path: ctx.path,
  };
  const visible: CatalogTool[] = [];
  for (const tool of deps.catalog.list()) {
    if (tool.pin !== 'blocked' && deps.canList(tool, input)) visible.push(tool);
  }
  const page = visible.slice(offset, offset + deps.pageSize);
  const end = offset + page.length;
  const result: Record<string, unknown> = { tools: page.map((t) => wireTool(t.definition)) };
  if (end < visible.length) result['nextCursor'] = cursorOf(end);
  if (ctx.mcp.era === 'modern') {
    result['ttlMs'] = TOOLS_LIST_TTL_MS;
    result['cacheScope'] = 'private';
  }
  ctx.detail = `listed ${page.length} of ${visible.length} visible tools (catalog ${deps.catalog.list().length})`;
  return answer(ctx, deps, result);
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

/** Cursors are opaque to clients: base64url of `o<offset>`. */
function cursorOf(offset: number): string {
  return Buffer.from(`o${offset}`).toString('base64url');
}

/** The offset a cursor names: 0 without one, undefined for one that is not ours. */
function offsetOf(cursor: unknown): number | undefined {
  if (cursor === undefined) return 0;
  if (typeof cursor !== 'string' || cursor.length > 32) return undefined;
  const m = /^o(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  return m === null ? undefined : Number(m[1]);
}
