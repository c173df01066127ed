import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DirectoryEntry, Identity } from '../../authenticate/identity.js';
import { createContext, type RequestContext } from '../../pipeline/context.js';
import type { DirectorySnapshot } from '../../resolve/directory.js';
import type { CatalogTool } from '../../tools/types.js';
import type { RpcId, RpcMessage } from './jsonrpc.js';
import type { SseStream } from './sse-stream.js';
import type { McpSession } from './session-store.js';

/**
 * The answer the door settled for a request, sent once its audit record is written: a JSON-RPC
 * result (JSON, or the last event of the request's stream), an empty acknowledgement (202 for a
 * notification or a response, 204 for a session's end), the session's GET stream, or the end of
 * a call the client cancelled or left.
 */
export type McpReply =
  | { readonly kind: 'result'; readonly json: string; readonly headers?: Record<string, string> }
  | { readonly kind: 'empty'; readonly status: 202 | 204 }
  | { readonly kind: 'stream' }
  | { readonly kind: 'cancelled'; readonly gone: boolean };

/** The MCP door's wire state of one request, on top of the neutral context. No stage reads it. */
export interface McpState {
  /** `legacy`: session-based (2025-03-26 to 2025-11-25); `modern`: stateless (2026-07-28). */
  era?: 'legacy' | 'modern';
  /** The version this request speaks (the session's, or the one in its `_meta`). */
  protocolVersion?: string;
  /** The message, once parsed. */
  message?: RpcMessage;
  /** The request's id, for error responses (set as soon as it can be read). */
  rpcId?: RpcId;
  /** The session this request belongs to (legacy era, every request after `initialize`). */
  session?: McpSession;
  /** `_meta.progressToken` of the request, when it asked for progress. */
  progressToken?: string | number;
  /** The client's Accept header: which response forms it takes. */
  accepts: { json: boolean; sse: boolean };
  /** The JSON-RPC error code of a denial the door itself made (protocol errors); stage denials are mapped by wire-errors.ts. */
  errorCode?: number;
  /** Extra `error.data` members of such a denial (e.g. `supported` versions). */
  errorData?: Record<string, unknown>;
  /** Stateless revision: the client declared URL-mode elicitation in `_meta` (it can be sent to a page, e.g. an approval's). */
  urlElicitation?: boolean;
  /** The SSE stream, once the response turned into one. */
  sse?: SseStream;
  /** The settled answer. */
  reply?: McpReply;
}

/** A request through the MCP door. */
export interface McpContext extends RequestContext {
  readonly mcp: McpState;
}

/** The context of a request to the MCP endpoint (door `mcp`). */
export function createMcpContext(req: IncomingMessage, res: ServerResponse, startedAt: number, wallMs: number): McpContext {
  const base = createContext(req, res, 'mcp', startedAt, wallMs);
  return Object.assign(base, { mcp: { accepts: { json: true, sse: true } } satisfies McpState });
}

/** What the list filter sees about the caller. */
export interface ListInput {
  readonly identity: Identity;
  readonly user?: DirectoryEntry;
  readonly directory: DirectorySnapshot;
  /** HTTP method and path of the MCP request (as for `tools/call`). */
  readonly method: string;
  readonly path: string;
}

/** May this caller see `tool` in `tools/list`? The same policy that decides `tools/call`. */
export type ListFilter = (tool: CatalogTool, input: ListInput) => boolean;
