import type { McpContext } from './context.js';
import { TOOLS_LIST_TTL_MS } from './protocol.js';

/**
 * Pagination of the endpoint's lists (`tools/list`, `resources/list`,
 * `resources/templates/list`, `prompts/list`): the visible items in a stable order, a page at a
 * time, with an opaque cursor that is the offset of the next page.
 */

/** Cursors are opaque to clients: base64url of `o<offset>`. */
export function cursorOf(offset: number): string {
  return Buffer.from(`o${offset}`).toString('base64url');
}

/** The offset a cursor names: 0 without one, undefined for one that is not ours. */
export function offsetOf(cursor: unknown): number | undefined {
  if (cursor === undefined) return 0;
  if (typeof cursor !== 'string' || cursor.length > 32) return undefined;
  const m = /^o(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  return m === null ? undefined : Number(m[1]);
}

/**
 * The page of `visible` starting at `offset` under `key` (`tools`, `resources`, ...), with
 * `nextCursor` when more follow. The lists differ per user, so the stateless revision marks them
 * `cacheScope: private` with a short `ttlMs`.
 */
export function listPage<T>(ctx: McpContext, key: string, visible: readonly T[], offset: number, pageSize: number, wire: (item: T) => unknown): Record<string, unknown> {
  const page = visible.slice(offset, offset + pageSize);
  const end = offset + page.length;
  const result: Record<string, unknown> = { [key]: page.map(wire) };
  if (end < visible.length) result['nextCursor'] = cursorOf(end);
  if (ctx.mcp.era === 'modern') {
    result['ttlMs'] = TOOLS_LIST_TTL_MS;
    result['cacheScope'] = 'private';
  }
  return result;
}
