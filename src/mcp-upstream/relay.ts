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

import type { RelayedRequestMethod } from './channel.js';

export type { ClientChannel, RelayedRequestMethod, UpstreamLogMessage } from './channel.js';

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
