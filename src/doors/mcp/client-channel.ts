import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import type { ClientChannel, RelayedRequestMethod, UpstreamLogMessage } from '../../mcp-upstream/channel.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import type { ClientAnswer } from './jsonrpc.js';
import { notificationMessage, requestMessage } from './jsonrpc.js';
import { SseStream } from './sse-stream.js';
import { LOG_LEVELS } from './session-store.js';

/**
 * The client side of one request the door serves through an upstream: what the upstream sends
 * while it works on it reaches this client, on this request's response, which turns into an SSE
 * stream at the first message (as for progress). Only a session-based client that accepts
 * `text/event-stream` can be reached this way: the stateless form has no session to answer on,
 * and a JSON-only client has no stream.
 */

/** A channel, plus the door's end of it. */
export interface RequestChannel extends ClientChannel {
  /** The request is answered: later messages are dropped, waiting requests fail. */
  close(): void;
}

/**
 * An error the SDK sends the upstream as `{ code, message, data }` exactly (an `McpError` would
 * prefix its message with "MCP error <code>:").
 */
function rpcError(code: number, message: string, data?: unknown): Error {
  return Object.assign(new Error(message), data === undefined ? { code } : { code, data });
}

/** Longest error message of a client passed on to the upstream, characters. */
const MAX_ERROR_MESSAGE = 200;

/** Each level's severity (debug 0 to emergency 7): a message passes when it is at least the session's level. */
const SEVERITY = new Map<string, number>(LOG_LEVELS.map((l, i) => [l, i]));

/**
 * Opens the channel of `ctx`'s request. `signal` is the request's own (aborted when the client
 * cancels it or goes away).
 *
 * `log` sends `notifications/message` when the session's `logging/setLevel` lets the level
 * through (no level set: every level). `request` sends the request with a fresh id
 * (`behalf-<n>`), if the session's client declared the capability (`sampling`; `elicitation` in
 * form mode), and waits for the client's response, which arrives as a POST on the same session
 * (see `clientResponse`). When the upstream gives up (its signal), the client gets
 * `notifications/cancelled` for that id.
 *
 * This does NOT check the params the upstream sent (the SDK client validated them against the
 * method's schema) nor the client's result (the SDK validates it before the upstream gets it).
 * It does NOT bound how long the client takes: the upstream's own timeout does.
 */
export function openClientChannel(ctx: McpContext, deps: McpDeps, signal: AbortSignal): RequestChannel {
  let closed = false;
  const giveUps = new Set<() => void>();
  const session = ctx.mcp.era === 'legacy' ? ctx.mcp.session : undefined;
  const stream = (): SseStream | undefined => {
    if (closed || session === undefined || !ctx.mcp.accepts.sse || ctx.res.writableEnded || ctx.res.destroyed) return undefined;
    ctx.mcp.sse ??= new SseStream(ctx.res, ctx.requestId);
    return ctx.mcp.sse;
  };

  return {
    log(message: UpstreamLogMessage) {
      const wanted = session?.logLevel;
      if (wanted !== undefined && (SEVERITY.get(message.level) ?? 0) < (SEVERITY.get(wanted) ?? 0)) return;
      stream()?.send(notificationMessage('notifications/message', message));
    },
    request(method: RelayedRequestMethod, params, opts) {
      const capability = method === 'sampling/createMessage' ? session?.clientCapabilities?.sampling : session?.clientCapabilities?.elicitation;
      if (capability !== true) return Promise.reject(rpcError(ErrorCode.MethodNotFound, `the client does not support ${method}`));
      const sse = stream();
      if (sse === undefined || session === undefined) return Promise.reject(rpcError(ErrorCode.MethodNotFound, `the client cannot take ${method} on this request`));
      const id = deps.clientRequests.nextId();
      return new Promise<Record<string, unknown>>((resolve, reject) => {
        const finish = (err?: Error, result?: Record<string, unknown>) => {
          unregister?.();
          giveUps.delete(giveUp);
          opts.signal.removeEventListener('abort', onUpstreamAbort);
          signal.removeEventListener('abort', giveUp);
          if (err !== undefined) reject(err);
          else resolve(result ?? {});
        };
        const giveUp = () => finish(rpcError(ErrorCode.ConnectionClosed, `the client request ended before it answered ${method}`));
        const onUpstreamAbort = () => {
          stream()?.send(notificationMessage('notifications/cancelled', { requestId: id, reason: 'the upstream cancelled its request' }));
          finish(rpcError(ErrorCode.ConnectionClosed, 'cancelled'));
        };
        const unregister = deps.clientRequests.add(session.id, id, {
          method,
          upstream: opts.upstream,
          settle: (answer: ClientAnswer) =>
            answer.ok ? finish(undefined, { ...answer.result }) : finish(rpcError(answer.code, answer.message.slice(0, MAX_ERROR_MESSAGE), answer.data)),
        });
        if (unregister === undefined) {
          reject(rpcError(ErrorCode.InternalError, 'too many requests wait for this client'));
          return;
        }
        if (opts.signal.aborted || signal.aborted) {
          finish(rpcError(ErrorCode.ConnectionClosed, 'cancelled'));
          return;
        }
        opts.signal.addEventListener('abort', onUpstreamAbort, { once: true });
        signal.addEventListener('abort', giveUp, { once: true });
        giveUps.add(giveUp);
        (ctx.relayed ??= []).push(method);
        sse.send(requestMessage(id, method, params));
      });
    },
    close() {
      closed = true;
      for (const giveUp of [...giveUps]) giveUp();
    },
  };
}
