import type { DirectoryEntry, Identity } from '../authenticate/identity.js';
import type { TraceContext } from '../lib/trace-context.js';
import type { ClientChannel } from '../mcp-upstream/channel.js';

/**
 * The contracts between the MCP door and the places tools come from: tools declared in the
 * config (HTTP calls to a route's backend) and tools of upstream MCP servers. The door lists and
 * calls tools only through these interfaces; policy decides on the catalog name.
 */

/** A tool as MCP clients see it (`tools/list`). */
export interface ToolDefinition {
  /** The name clients call, unique in the catalog (`hr.get_reviews` for an upstream's tool). */
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  /** JSON Schema of the arguments (an object schema). */
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly outputSchema?: Readonly<Record<string, unknown>>;
  readonly annotations?: Readonly<{
    title?: string;
    readOnlyHint?: boolean;
    destructiveHint?: boolean;
    idempotentHint?: boolean;
    openWorldHint?: boolean;
  }>;
}

/** An MCP content block (text, image, resource link, ...), passed through as the source gives it. */
export type ContentBlock = Readonly<{ type: string } & Record<string, unknown>>;

/** What a tool call returns to the client (`CallToolResult`). */
export interface ToolCallResult {
  readonly content: readonly ContentBlock[];
  readonly structuredContent?: Readonly<Record<string, unknown>>;
  /** A failure the model should see (backend error, invalid result): not a protocol error. */
  readonly isError?: boolean;
  /** For the audit record: the backend's HTTP status, when there was one. */
  readonly upstreamStatus?: number;
  /** For the audit record: short non-secret detail (e.g. "backend answered 500"). */
  readonly detail?: string;
  /**
   * Set when the backend gave no answer at all: why, as the reason the request is recorded with
   * (the same a route request gets: unreachable, too slow, broken). The model still gets the
   * `isError` result; the record says `deny` with this reason, as on the HTTP door.
   */
  readonly failure?: BackendFailure;
}

/** Why a backend gave no answer. */
export type BackendFailure = 'upstream-unavailable' | 'upstream-timeout' | 'upstream-error';

/** Everything a source needs to call a tool on behalf of the verified user. */
export interface ToolCallContext {
  readonly identity: Identity;
  readonly user?: DirectoryEntry;
  /** The gateway's request id (sent upstream as X-Request-Id). */
  readonly requestId: string;
  /** The request's trace, sent on as `traceparent` (a header, and `_meta` for an upstream MCP server). */
  readonly trace?: TraceContext;
  /** `sha256:<base64url>` of the canonical JSON of the arguments (the assertion carries it). */
  readonly argumentsDigest: string;
  /** Aborted when the client cancels (`notifications/cancelled`) or goes away. */
  readonly signal: AbortSignal;
  /** Progress from the source, relayed to the client when it asked (`_meta.progressToken`). */
  readonly onProgress?: (progress: { progress: number; total?: number; message?: string }) => void;
  /** Where an upstream's messages during the call go (log messages, sampling, elicitation); none for config tools. */
  readonly channel?: ClientChannel;
}

/** A place tools come from. */
export interface ToolSource {
  /** `config` for tools declared in the config, else the upstream's id. */
  readonly id: string;
  readonly kind: 'http' | 'mcp';
  /**
   * Calls `tool` (its catalog name). Never throws for a backend's failure: that is an `isError`
   * result. Rejects only for faults (a bug, or the call aborted).
   */
  call(tool: string, args: Readonly<Record<string, unknown>>, ctx: ToolCallContext): Promise<ToolCallResult>;
  /** True when the operator declared `tool` (its catalog name) read-only in the config (audit durability). */
  readsOnly?(tool: string): boolean;
  /** The largest arguments `tool` (its catalog name) takes, bytes of JSON text, when the config sets it for the tool or its upstream. */
  maxArgumentBytes?(tool: string): number | undefined;
}

/** One tool in the catalog. */
export interface CatalogTool {
  readonly definition: ToolDefinition;
  readonly source: ToolSource;
  /**
   * `blocked`: its upstream definition changed since an operator pinned it and pinning is
   * `block` (not listed, not callable); `flagged`: changed, served, and audited as such.
   */
  readonly pin?: 'blocked' | 'flagged';
}

/** Every tool the gateway serves, by exact name. */
export interface ToolCatalog {
  /** All tools, blocked ones included (the door filters them and the policy filters per user). */
  list(): readonly CatalogTool[];
  /** Exact lookup: `__proto__`, `toString` or `a/` are just unknown names. */
  get(name: string): CatalogTool | undefined;
}
