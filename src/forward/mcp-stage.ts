import { callTool } from '../doors/mcp/call-tool.js';
import type { McpStage } from '../doors/mcp/context.js';
import { listTools } from '../doors/mcp/list-tools.js';
import { clientResponse, discover, endSession, initialize, notification, ping, setLogLevel } from '../doors/mcp/protocol-methods.js';
import { complete, getPrompt, listPrompts, listResources, listResourceTemplates, readResource } from '../doors/mcp/serve-features.js';
import { openStream } from '../doors/mcp/session-streams.js';
import { subscribe, unsubscribe } from '../doors/mcp/subscriptions.js';
import { deny } from '../pipeline/decision.js';

/**
 * forward (MCP): answers the message. A `tools/call` goes to the tool's source (a config tool's
 * HTTP backend, or an upstream MCP server), and a resource, prompt or completion request to the
 * upstream that serves it; both inject the verified identity and never the client's token.
 * Everything else is answered by the gateway itself (a GET opens the session's stream). Each
 * answer is audited before it is sent.
 */
export const mcpForwardStage: McpStage = (ctx, deps) => {
  if (ctx.method === 'DELETE') return endSession(ctx, deps);
  if (ctx.method === 'GET') return openStream(ctx, deps);
  const message = ctx.mcp.message;
  if (message === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'forward ran before resolve' });
  if (message.kind === 'response') return clientResponse(ctx, deps, message.id, message.answer);
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
    case 'resources/list':
      return listResources(ctx, deps, message.params);
    case 'resources/templates/list':
      return listResourceTemplates(ctx, deps, message.params);
    case 'resources/read':
      return readResource(ctx, deps);
    case 'resources/subscribe':
      return subscribe(ctx, deps);
    case 'resources/unsubscribe':
      return unsubscribe(ctx, deps);
    case 'prompts/list':
      return listPrompts(ctx, deps, message.params);
    case 'prompts/get':
      return getPrompt(ctx, deps);
    case 'completion/complete':
      return complete(ctx, deps, message.params);
    case 'logging/setLevel':
      return setLogLevel(ctx, deps, message.params);
    default:
      return deny(500, 'internal-error', 'internal error', { detail: 'resolve let an unknown method through' });
  }
};
