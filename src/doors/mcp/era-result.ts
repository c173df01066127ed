import type { McpContext } from './context.js';
import { META, SERVER_INFO } from './protocol.js';

/** The stateless revision's per-result fields: `resultType` and the server's identity. Legacy results go out as they are. */
export function forEra(ctx: McpContext, result: Record<string, unknown>): Record<string, unknown> {
  if (ctx.mcp.era !== 'modern') return result;
  return { resultType: 'complete', ...result, _meta: { [META.serverInfo]: SERVER_INFO } };
}
