import type { CallChannel } from '../../pipeline/door.js';
import { openClientChannel } from './client-channel.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { trackRequest } from './in-flight.js';
import { notificationMessage } from './jsonrpc.js';
import { SseStream } from './sse-stream.js';

/**
 * The client's side of a call to a backend (a tool call, a relayed upstream request): aborted
 * when the client goes away or cancels it (`notifications/cancelled` of the same session);
 * progress reaches the client as `notifications/progress` on an SSE response when the request
 * asked for it (`_meta.progressToken`) and accepts `text/event-stream` (the response turns into
 * a stream at the first progress event, so a call without progress is a plain JSON answer); with
 * `relay`, an upstream MCP server's messages during the call (log, sampling, elicitation) reach
 * the client on the same stream (client-channel.ts).
 */
export function openCallChannel(ctx: McpContext, deps: McpDeps, relay: boolean): CallChannel {
  const tracked = trackRequest(ctx.res, deps.inFlight, ctx.mcp.session?.id, ctx.mcp.rpcId);
  const token = ctx.mcp.progressToken;
  const onProgress =
    token !== undefined && ctx.mcp.accepts.sse
      ? (p: { progress: number; total?: number; message?: string }) => {
          if (tracked.signal.aborted || typeof p.progress !== 'number') return;
          ctx.mcp.sse ??= new SseStream(ctx.res, ctx.requestId);
          const params: Record<string, unknown> = { progressToken: token, progress: p.progress };
          if (typeof p.total === 'number') params['total'] = p.total;
          if (typeof p.message === 'string') params['message'] = p.message;
          ctx.mcp.sse.send(notificationMessage('notifications/progress', params));
        }
      : undefined;
  const channel = relay ? openClientChannel(ctx, deps, tracked.signal) : undefined;
  return {
    signal: tracked.signal,
    get gone() {
      return tracked.gone;
    },
    ...(onProgress === undefined ? {} : { onProgress }),
    ...(channel === undefined ? {} : { relay: channel }),
    close() {
      channel?.close();
      tracked.release();
    },
  };
}
