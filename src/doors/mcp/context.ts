import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DirectoryEntry, Identity } from '../../authenticate/identity.js';
import type { McpConfig } from '../../config/schema.js';
import { createContext, type RequestContext } from '../../pipeline/context.js';
import type { Deny } from '../../pipeline/decision.js';
import type { PipelineDeps } from '../../pipeline/deps.js';
import type { ServedPrompt, ServedTemplate, ServingUpstream } from '../../mcp-upstream/feature-index.js';
import type { Upstreams } from '../../mcp-upstream/upstreams.js';
import type { DirectorySnapshot } from '../../resolve/directory.js';
import type { CatalogTool, ToolCatalog } from '../../tools/types.js';
import type { ClientRequests } from './client-requests.js';
import type { InFlightCalls } from './in-flight.js';
import type { RpcId, RpcMessage } from './jsonrpc.js';
import type { McpSession, SessionStore } from './session-store.js';
import type { SessionStreams } from './session-streams.js';
import type { Subscriptions } from './subscriptions.js';
import type { SseStream } from './respond.js';

/** What the MCP stages learn about one request, on top of what every request has. */
export interface McpState {
  /** `legacy`: session-based (2025-03-26 to 2025-11-25); `modern`: stateless (2026-07-28). Set by resolve. */
  era?: 'legacy' | 'modern';
  /** The version this request speaks (the session's, or the one in its `_meta`). */
  protocolVersion?: string;
  /** The message, once resolve parsed it. */
  message?: RpcMessage;
  /** The request's id, for error responses (set as soon as it can be read). */
  rpcId?: RpcId;
  /** The JSON-RPC method, for the audit record (bounded, printable). */
  rpcMethod?: string;
  /** The session this request belongs to (legacy era, every request after `initialize`). */
  session?: McpSession;
  /** `tools/call`: the name asked for (bounded, for the audit record even when unknown). */
  toolName?: string;
  /** `tools/call`: the catalog entry the name resolved to. */
  tool?: CatalogTool;
  /** `tools/call`: the arguments (an object). */
  args?: Readonly<Record<string, unknown>>;
  /** `tools/call`, `prompts/get`: `sha256:<base64url>` of the canonical JSON of the arguments. */
  argsDigest?: string;
  /** A resource, prompt or completion request: what it is about and which upstream serves it (set by resolve). */
  target?: McpTarget;
  /** The resource URI asked for (bounded, printable), for the audit record even when unknown. */
  resource?: string;
  /** The prompt name asked for (bounded, printable), for the audit record even when unknown. */
  prompt?: string;
  /** The upstream that served a request other than `tools/call` (or whose relayed request a client response answers). */
  upstream?: string;
  /** Requests relayed to the client during this request (`sampling/createMessage`, ...), for the audit `detail`. */
  relayed?: string[];
  /** `_meta.progressToken` of the request, when it asked for progress. */
  progressToken?: string | number;
  /** The directory snapshot every decision of this request uses. */
  snapshot?: DirectorySnapshot;
  /** The client's Accept header: which response forms it takes. */
  accepts: { json: boolean; sse: boolean };
  /** The JSON-RPC error code a denial is sent with (default: from its status). */
  errorCode?: number;
  /** Extra `error.data` members of a denial (e.g. `supported` versions). */
  errorData?: Record<string, unknown>;
  /** `tools/call`: the tool returned `isError: true`. */
  resultError?: boolean;
  /** HTTP status of an answer that is not a denial, for the audit record. */
  status?: number;
  /** The SSE stream, once the response turned into one. */
  sse?: SseStream;
}

/**
 * A request about something an upstream serves besides tools. `resource`: `resources/read`,
 * `resources/subscribe` or `resources/unsubscribe` of `uri`; `prompt`: `prompts/get`;
 * `complete-prompt` / `complete-template`: `completion/complete` for a prompt's or a template's
 * argument.
 */
export type McpTarget =
  | { readonly kind: 'resource'; readonly uri: string; readonly upstream: ServingUpstream }
  | { readonly kind: 'prompt'; readonly prompt: ServedPrompt; readonly arguments: Readonly<Record<string, string>> }
  | { readonly kind: 'complete-prompt'; readonly prompt: ServedPrompt }
  | { readonly kind: 'complete-template'; readonly template: ServedTemplate };

/** A request through the MCP door. */
export interface McpContext extends RequestContext {
  readonly mcp: McpState;
}

/** The context of a request to the MCP endpoint (door `mcp`). */
export function createMcpContext(req: IncomingMessage, res: ServerResponse, startedAt: number): McpContext {
  const base = createContext(req, res, 'mcp', startedAt);
  return Object.assign(base, { mcp: { accepts: { json: true, sse: true } } satisfies McpState });
}

/**
 * Checks a tool's arguments against its input schema (M2's `compileArgumentValidators`).
 * `message` names the offending field and never echoes a value.
 */
export type ArgumentValidator = (name: string, args: Readonly<Record<string, unknown>>) => { ok: true } | { ok: false; message: string };

/** What the list filter sees about the caller. */
export interface ListInput {
  readonly identity: Identity;
  readonly user?: DirectoryEntry;
  readonly directory: DirectorySnapshot;
  /** HTTP method and path of the MCP request (as for `tools/call`). */
  readonly method: string;
  readonly path: string;
}

/** May this caller see `tool` in `tools/list`? The same policy that decides `tools/call` (M2's `canList`). */
export type ListFilter = (tool: CatalogTool, input: ListInput) => boolean;

/** What the MCP stages need, built once per gateway. */
export interface McpDeps extends PipelineDeps {
  /** `config.mcp`, or its defaults when only tools or upstreams are configured. */
  readonly mcp: McpConfig;
  /** The endpoint's public URL (`<publicUrl><mcp.path>`): the audience tokens must carry (RFC 8707). */
  readonly resourceUrl: string;
  /** Where its protected resource metadata is (RFC 9728), for the 401 challenge. */
  readonly resourceMetadataUrl: string;
  /** Origins allowed to call: the public URL's and `mcp.allowedOrigins`, normalised. */
  readonly allowedOrigins: ReadonlySet<string>;
  readonly catalog: ToolCatalog;
  /** The upstream MCP servers, when configured: their resources, prompts and completions are served too. */
  readonly upstreams?: Upstreams;
  readonly sessions: SessionStore;
  /** Requests relayed to clients that wait for the client's response. */
  readonly clientRequests: ClientRequests;
  /** The sessions' GET streams (resource update notifications). */
  readonly streams: SessionStreams;
  /** Which sessions subscribed to which upstream resources. */
  readonly subscriptions: Subscriptions;
  readonly inFlight: InFlightCalls;
  readonly validateArguments: ArgumentValidator;
  readonly canList: ListFilter;
  /** Request body bound, bytes (`mcp.maxBodyBytes`, default `server.maxBodyBytes`). */
  readonly maxBodyBytes: number;
  /** Tools per `tools/list` page. */
  readonly pageSize: number;
  /** Wall clock, ms since epoch. */
  readonly now: () => number;
}

/** An MCP stage: same contract as an HTTP stage (a denial stops the request; throws only for faults). */
export type McpStage = (ctx: McpContext, deps: McpDeps) => Deny | undefined | Promise<Deny | undefined>;
