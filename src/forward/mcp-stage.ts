import { callTool } from '../doors/mcp/call-tool.js';
import type { McpStage } from '../doors/mcp/context.js';
import { listTools } from '../doors/mcp/list-tools.js';
import { discover, endSession, initialize, notification, ping } from '../doors/mcp/protocol-methods.js';
import { deny } from '../pipeline/decision.js';

/**
 * forward (MCP): answers the message. A `tools/call` goes to the tool's source (a config tool's
 * HTTP backend, or an upstream MCP server), which injects the verified identity and never the
 * client's token; everything else is answered by the gateway itself. Each answer is audited
 * before it is sent.
 */
export const mcpForwardStage: McpStage = (ctx, deps) => {
  if (ctx.method === 'DELETE') return endSession(ctx, deps);
  const message = ctx.mcp.message;
  if (message === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'forward ran before resolve' });
  if (message.kind === 'response') return notification(ctx, deps, undefined, {});
  if (message.kind === 'notification') return notification(ctx, deps, message.method, message.params);
  switch (message.method) {
    case 'initialize':
      return initialize(ctx, deps, message.params);
    case 'ping':
      return ping(ctx, deps);
    case 'server/discover':
      return discover(ctx, deps);
    case 'tools/list':
      return listTools(ctx, deps, message.params);
    case 'tools/call':
      return callTool(ctx, deps);
    default:
      return deny(500, 'internal-error', 'internal error', { detail: 'resolve let an unknown method through' });
  }
};
