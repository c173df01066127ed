import type { McpConfig } from '../../config/schema.js';
import type { JsonBounds } from '../../lib/json-scan.js';
import type { Upstreams } from '../../mcp-upstream/upstreams.js';
import type { PipelineDeps } from '../../pipeline/deps.js';
import type { ToolCatalog } from '../../tools/types.js';
import type { ClientRequests } from './client-requests.js';
import type { ListFilter } from './context.js';
import type { InFlightCalls } from './in-flight.js';
import type { SessionStore } from './session-store.js';
import type { SessionStreams } from './session-streams.js';
import type { Subscriptions } from './subscriptions.js';

/**
 * What the MCP door needs besides the pipeline's components: its sessions, streams and
 * subscriptions, and its settings. Built once per gateway; only the door's own files see it.
 */
export interface McpDeps extends PipelineDeps {
  /** `config.mcp`, or its defaults when only tools or upstreams are configured. */
  readonly mcp: McpConfig;
  /** The endpoint's public URL (`<publicUrl><mcp.path>`): the audience tokens must carry (RFC 8707). */
  readonly resourceUrl: string;
  /** Where its protected resource metadata is (RFC 9728), for the 401 challenge. */
  readonly resourceMetadataUrl: string;
  /** The scopes the endpoint needs (its metadata's `scopes_supported`), named in a 401's challenge. */
  readonly resourceScopes: readonly string[];
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
  readonly canList: ListFilter;
  /** Request body bound, bytes (`mcp.maxBodyBytes`, default `server.maxBodyBytes`). */
  readonly maxBodyBytes: number;
  /** Depth and value bounds on a message (`server.maxJsonDepth`, `server.maxJsonValues`). */
  readonly jsonBounds: JsonBounds;
  /** Tools per `tools/list` page. */
  readonly pageSize: number;
  /** Wall clock, ms since epoch. */
  readonly now: () => number;
}
