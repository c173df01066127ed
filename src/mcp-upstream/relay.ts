import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
  type ClientCapabilities,
  type CreateMessageResult,
  type ElicitResult,
  type LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { currentChannel } from './transport.js';

/**
 * What an upstream sends the gateway while it serves one client request, relayed to that
 * client: its log messages (`notifications/message`) and its requests to the client
 * (`sampling/createMessage`, `elicitation/create`). The door implements {@link ClientChannel} per
 * request; the upstream connection finds it with `currentChannel()` (see
 * mcp-upstream-transport.ts for why that names the right request).
 */

/** The requests an upstream may send the client through the gateway. */
export type RelayedRequestMethod = 'sampling/createMessage' | 'elicitation/create';

/** One log message of an upstream (`notifications/message` params). */
export interface UpstreamLogMessage {
  readonly level: LoggingLevel;
  readonly logger?: string;
  readonly data: unknown;
}

/** The client side of one request the door serves through an upstream. */
export interface ClientChannel {
  /** A log message of `upstream` for this request; dropped unless the client can take it at its level. */
  log(message: UpstreamLogMessage, upstream: string): void;
  /**
   * Sends `method` to the client on this request's stream and resolves with its result.
   * Rejects with an `McpError` when the client cannot take it (no stream, no such capability),
   * answers with an error, or goes away; and when `signal` aborts (the upstream cancelled).
   */
  request(method: RelayedRequestMethod, params: Readonly<Record<string, unknown>>, opts: { readonly signal: AbortSignal; readonly upstream: string }): Promise<Record<string, unknown>>;
}

/**
 * What the gateway declares to every upstream: it can relay sampling and form elicitation (to a
 * client that supports them, during one of that client's requests). Not `roots`: an upstream
 * session is shared by every user, and roots are a session's, not a request's. Not URL-mode
 * elicitation, whose completion notification arrives outside the request.
 */
export const RELAY_CAPABILITIES: ClientCapabilities = Object.freeze({ sampling: {}, elicitation: { form: {} } });

/**
 * Installs the relay on an upstream's SDK client: log messages go to the current request's
 * channel (or nowhere), and sampling and elicitation requests are sent to that request's client
 * and its answer returned. A request that belongs to no client request (on the session's GET
 * stream, or from a stdio upstream) is refused with `-32601`; so is a task-augmented one (the
 * gateway declares no tasks). The params go to the client without `_meta` (the upstream's
 * progress tokens and task ids mean nothing to the client).
 *
 * This does NOT check who the client is: the channel belongs to the request the door already
 * authenticated and authorized. It does NOT bound how long the client takes (the upstream's own
 * request timeout, and the tool call's `timeoutMs`, do).
 */
export function installRelay(client: Client, upstream: string, log?: Logger): void {
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    const channel = currentChannel();
    if (channel === undefined) {
      log?.debug({ level: n.params.level }, 'upstream log message outside any client request: not relayed');
      return;
    }
    const { level, logger, data } = n.params;
    channel.log(logger === undefined ? { level, data } : { level, logger, data }, upstream);
  });
  const relay = async (method: RelayedRequestMethod, requestParams: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<Record<string, unknown>> => {
    const channel = currentChannel();
    if (channel === undefined) throw new McpError(ErrorCode.MethodNotFound, `${method} is relayed only during a client request the gateway serves`);
    const { _meta: _dropped, ...params } = requestParams;
    if (params['task'] !== undefined) throw new McpError(ErrorCode.InvalidParams, 'task-augmented requests are not relayed');
    return channel.request(method, params, { signal, upstream });
  };
  // The SDK checks the client's result against the method's result schema before the upstream gets it.
  client.setRequestHandler(CreateMessageRequestSchema, async (req, extra) => (await relay('sampling/createMessage', req.params, extra.signal)) as CreateMessageResult);
  client.setRequestHandler(ElicitRequestSchema, async (req, extra) => (await relay('elicitation/create', req.params, extra.signal)) as ElicitResult);
}
