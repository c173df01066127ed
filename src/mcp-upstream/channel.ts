import type { LoggingLevel } from '@modelcontextprotocol/sdk/types.js';

/**
 * The contract between an upstream MCP server's connection and the client request it is serving:
 * what the upstream sends meanwhile (log messages, requests to the client) goes through the
 * request's channel, which the door implements (relay.ts installs the handlers; transport.ts
 * finds the right request's channel).
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
