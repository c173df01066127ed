import { deny, type Deny } from '../../pipeline/decision.js';
import { answer, settleCancelled } from './answer.js';
import type { McpContext } from './context.js';

/**
 * Turns what forward got into the JSON-RPC result the client will get (sent once audited). Only
 * what MCP defines for the method goes to the client: a tool's `content`, `structuredContent` and
 * `isError` (a backend's status and detail are for the record); a resource's `contents`; a
 * prompt's `description` and `messages`; a completion's `completion`; never an upstream's `_meta`.
 * An answer the door settled itself (a protocol message) is left as it is.
 */
export function settleOutcome(ctx: McpContext): Deny | undefined {
  if (ctx.mcp.reply !== undefined) return undefined;
  const outcome = ctx.outcome;
  switch (outcome?.kind) {
    case 'tool': {
      const result = outcome.result;
      const wire: Record<string, unknown> = { content: result.content };
      if (result.structuredContent !== undefined) wire['structuredContent'] = result.structuredContent;
      if (result.isError === true) wire['isError'] = true;
      return answer(ctx, wire);
    }
    case 'upstream':
      return answer(ctx, shapeOf(ctx, outcome.result));
    case 'cancelled':
      return settleCancelled(ctx, outcome.gone);
    default:
      return deny(500, 'internal-error', 'internal error', { detail: 'nothing to answer with' });
  }
}

function shapeOf(ctx: McpContext, r: Readonly<Record<string, unknown>>): Record<string, unknown> {
  switch (ctx.target?.kind) {
    case 'resource':
      return { contents: r['contents'] };
    case 'prompt':
      return { ...(r['description'] === undefined ? {} : { description: r['description'] }), messages: r['messages'] };
    case 'completion':
      return { completion: r['completion'] };
    default:
      return {};
  }
}
