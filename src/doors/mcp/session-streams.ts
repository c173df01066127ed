import type { McpContext } from './context.js';
import { SseStream } from './sse-stream.js';
import { DEFAULTS } from '../../config/defaults.js';

/**
 * The sessions' GET streams (Streamable HTTP, protocols up to 2025-11-25): where the endpoint
 * sends what belongs to a session rather than to one request: `notifications/resources/updated`
 * for the resources the session subscribed to, and `notifications/tools/list_changed` when the
 * upstreams' tools change. One stream per session: a new GET replaces the previous stream (which
 * is ended), so a message is never sent on two streams. Served only when upstream MCP servers
 * are; otherwise GET stays `405`.
 */

/** The open streams of one process. */
export interface SessionStreams {
  /** Opens `ctx`'s response as the stream of `sessionId`, ending the session's previous one. */
  open(ctx: McpContext, sessionId: string): void;
  /** Sends one JSON-RPC message on the session's stream; false when it has none open. */
  send(sessionId: string, json: string): boolean;
  /** Sends one JSON-RPC message on every open stream (a notification that holds nothing per user). */
  broadcast(json: string): void;
  /** Ends the session's stream, if any (the session ended). */
  close(sessionId: string): void;
  /** Streams open now. */
  size(): number;
}

/** How often an idle stream gets an SSE comment, ms (30 s: under the usual 60 s proxy idle timeouts). */
export const KEEP_ALIVE_MS = DEFAULTS.mcpStreamKeepAliveMs;

/**
 * The registry. Every {@link KEEP_ALIVE_MS} each stream gets a comment, and a stream whose
 * session is gone (expired, dropped) is ended and `onSessionGone` called.
 *
 * This does NOT authenticate or check the session's owner: the pipeline did before `open`.
 */
export function createSessionStreams(opts: { readonly alive: (sessionId: string) => Promise<boolean>; readonly onSessionGone: (sessionId: string) => void }): SessionStreams {
  const streams = new Map<string, SseStream>();
  const close = (sessionId: string) => {
    const stream = streams.get(sessionId);
    if (stream === undefined) return;
    streams.delete(sessionId);
    stream.end();
  };
  return {
    open(ctx, sessionId) {
      close(sessionId);
      const stream = new SseStream(ctx.res, ctx.requestId);
      streams.set(sessionId, stream);
      const timer = setInterval(() => {
        void opts.alive(sessionId).then((alive) => {
          if (alive) return stream.keepAlive();
          if (streams.get(sessionId) === stream) close(sessionId);
          opts.onSessionGone(sessionId);
        });
      }, KEEP_ALIVE_MS);
      timer.unref();
      ctx.res.once('close', () => {
        clearInterval(timer);
        if (streams.get(sessionId) === stream) streams.delete(sessionId);
      });
    },
    send(sessionId, json) {
      const stream = streams.get(sessionId);
      if (stream === undefined || !stream.open) return false;
      stream.send(json);
      return true;
    },
    broadcast(json) {
      for (const stream of streams.values()) if (stream.open) stream.send(json);
    },
    close,
    size: () => streams.size,
  };
}
