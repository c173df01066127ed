import { deny, type Deny } from '../../pipeline/decision.js';
import type { Door } from '../../pipeline/door.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { listTools } from './list-tools.js';
import { clientResponse, discover, endSession, initialize, notification, ping, setLogLevel } from './protocol-methods.js';
import { listPrompts, listResources, listResourceTemplates } from './serve-features.js';
import { subscribe, unsubscribe } from './subscribe.js';

/**
 * What the endpoint answers itself, once the stages let it through: the protocol messages
 * (initialize, ping, discover, the lists, `logging/setLevel`, notifications, a client's response,
 * a session's stream and its end) and resource subscriptions (the door's sessions hold them; the
 * upstream is asked through forward). Each handler settles an answer; the runner audits, then
 * sends it.
 */
export function answerLocally(ctx: McpContext, deps: McpDeps, door: Door): Deny | undefined | Promise<Deny | undefined> {
  if (ctx.method === 'DELETE') return endSession(ctx, deps);
  if (ctx.method === 'GET') return openStream(ctx);
  const message = ctx.mcp.message;
  if (message === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'answered before the message was read' });
  if (message.kind === 'response') return clientResponse(ctx, deps, message.id, message.answer);
  if (message.kind === 'notification') return notification(ctx, deps, message.method, message.params);
  switch (message.method) {
    case 'initialize':
      return initialize(ctx, deps, message.params);
    case 'ping':
      return ping(ctx);
    case 'server/discover':
      return discover(ctx, deps);
    case 'tools/list':
      return listTools(ctx, deps, message.params);
    case 'resources/list':
      return listResources(ctx, deps, message.params);
    case 'resources/templates/list':
      return listResourceTemplates(ctx, deps, message.params);
    case 'resources/subscribe':
      return subscribe(ctx, deps, door);
    case 'resources/unsubscribe':
      return unsubscribe(ctx, deps);
    case 'prompts/list':
      return listPrompts(ctx, deps, message.params);
    case 'logging/setLevel':
      return setLogLevel(ctx, deps, message.params);
    default:
      return deny(500, 'internal-error', 'internal error', { detail: 'no local answer for this method' });
  }
}

/**
 * GET with the session's id: settled as the session's stream; once audited, the response stays
 * open (`text/event-stream`) until the client closes it, the session ends, or another GET of the
 * same session replaces it.
 */
export function openStream(ctx: McpContext): undefined {
  ctx.status = 200;
  ctx.detail = 'session stream opened';
  ctx.mcp.reply = { kind: 'stream' };
  ctx.outcome = { kind: 'local' };
  return undefined;
}
