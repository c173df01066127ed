import type { IncomingMessage, ServerResponse } from 'node:http';
import { canList } from '../../authorize/tool-listing.js';
import type { Policy } from '../../authorize/policy.js';
import { mcpSchema, type Config, type McpConfig } from '../../config/schema.js';
import { jsonBoundsOf } from '../../lib/json-scan.js';
import { splitUrl } from '../../pipeline/context.js';
import type { PipelineDeps } from '../../pipeline/deps.js';
import type { Door } from '../../pipeline/door.js';
import { createRunner } from '../../pipeline/run.js';
import type { ToolCatalog } from '../../tools/types.js';
import { publicUrlOf, resourceMetadataUrl } from '../well-known.js';
import type { Upstreams } from '../../mcp-upstream/upstreams.js';
import { createClientRequests } from './client-requests.js';
import { servesStream } from './capabilities.js';
import { allowOrigin, answerPreflight, corsOriginOf, isPreflight } from './cors.js';
import { answerLocally } from './answer-locally.js';
import { sendReply } from './answer.js';
import { openCallChannel } from './call-channel.js';
import { createMcpContext, type ListFilter, type McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { describeMcp, headerMismatch } from './describe.js';
import { checkParamHeaders } from './request-headers.js';
import { respondMcpDenied } from './respond.js';
import { settleOutcome } from './settle.js';
import { wireErrorOf } from './wire-errors.js';
import { createInFlightCalls } from './in-flight.js';
import { allowedOriginsOf, receiveMcp } from './receive.js';
import { createMemorySessionStore, type SessionStore } from './session-store.js';
import { createSessionStreams } from './session-streams.js';
import { createSubscriptions } from './subscriptions.js';
import { DEFAULTS } from '../../config/defaults.js';

/**
 * The MCP endpoint (Streamable HTTP) as one handler the gateway mounts at `mcp.path`.
 * See docs/mcp.md.
 */

/** Tools per `tools/list` page unless told otherwise. */
export const DEFAULT_PAGE_SIZE = DEFAULTS.mcpPageSize;

/**
 * Whether the gateway has an MCP door at all, and its settings: `mcp`, or its defaults when
 * tools or upstreams are configured (or `always`).
 */
export function mcpConfigOf(config: Config, always = false): McpConfig | undefined {
  if (config.mcp !== undefined) return config.mcp;
  return always || config.tools.length > 0 || config.upstreams.length > 0 ? mcpSchema.parse({}) : undefined;
}

/**
 * Every scope a policy rule that can apply to a tool call mentions (rules not restricted to
 * routes): the `scopes_supported` of the endpoint's protected resource metadata.
 */
export function mcpScopes(config: Config): string[] {
  return [...new Set(config.policies.filter((p) => p.match.routes === undefined).flatMap((p) => p.scopes))];
}

/** What the door is built from. */
export interface McpDoorOptions {
  /** The pipeline's shared components (authenticator, policy, directory, auditor, the served tools, ...). */
  readonly deps: PipelineDeps;
  readonly mcp: McpConfig;
  readonly catalog: ToolCatalog;
  /** Who sees which tool in `tools/list`; default: `policy.canList` on the same input `tools/call` is decided on. */
  readonly canList?: ListFilter;
  /**
   * The upstream MCP servers whose resources, prompts and completions the endpoint serves besides
   * their tools. Default: the set `startToolSources` built `catalog` with, if it did.
   */
  readonly upstreams?: Upstreams;
  /**
   * Subscribes to changes of the tool set (the catalog's `onChange`): each one is pushed to every
   * open session stream as `notifications/tools/list_changed`, and each client re-lists (and is
   * filtered by policy as always).
   */
  readonly onToolsChanged?: (listener: () => void) => () => void;
  /** Default: in memory, bounded by `mcp.maxSessions` and `mcp.sessionIdleSeconds`. */
  readonly sessions?: SessionStore;
  /** Default {@link DEFAULT_PAGE_SIZE}. */
  readonly pageSize?: number;
  /** Wall clock, ms since epoch (default `Date.now`). */
  readonly now?: () => number;
}

/** The mounted endpoint. */
export interface McpDoor {
  /** The endpoint's path on the gateway (`mcp.path`). */
  readonly path: string;
  /** Its public URL: the audience its tokens carry and the `resource` of its metadata. */
  readonly resourceUrl: string;
  readonly sessions: SessionStore;
  /** True for a request to exactly the endpoint's path (the query is ignored). */
  handles(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/**
 * Builds the endpoint. Throws nothing at request time: every request, however malformed, is
 * answered with a spec error and audited.
 */
export function createMcpDoor(opts: McpDoorOptions): McpDoor {
  const { config } = opts.deps;
  const path = opts.mcp.path;
  const now = opts.now ?? Date.now;
  const sessions =
    opts.sessions ?? createMemorySessionStore({ maxSessions: opts.mcp.maxSessions, idleMs: opts.mcp.sessionIdleSeconds * 1000, now });
  const alive = async (id: string) => (await sessions.peek(id)) !== undefined;
  // The stream and the subscriptions refer to each other: a stream whose session is gone drops its subscriptions.
  let dropSession = (_id: string): void => undefined;
  const streams = createSessionStreams({ alive, onSessionGone: (id) => dropSession(id) });
  const subscriptions = createSubscriptions({
    streams,
    policy: opts.deps.policy,
    directory: () => opts.deps.directory.snapshot(),
    path,
    alive,
    logger: opts.deps.logger,
  });
  dropSession = (id) => subscriptions.dropSession(id);
  const upstreams = opts.upstreams;
  upstreams?.onResourceUpdated((upstream, uri) => subscriptions.deliver(upstream, uri));
  upstreams?.onConnected((upstream) => subscriptions.renew(upstream));
  opts.onToolsChanged?.(() => streams.broadcast(TOOLS_LIST_CHANGED));
  const deps: McpDeps = {
    ...opts.deps,
    ...(upstreams === undefined ? {} : { features: () => upstreams.features() }),
    mcp: opts.mcp,
    resourceUrl: publicUrlOf(config, path),
    resourceMetadataUrl: resourceMetadataUrl(config, path),
    resourceScopes: mcpScopes(config),
    allowedOrigins: allowedOriginsOf(config, opts.mcp),
    catalog: opts.catalog,
    ...withUpstreams(upstreams),
    sessions,
    clientRequests: createClientRequests(),
    streams,
    subscriptions,
    inFlight: createInFlightCalls(),
    canList: opts.canList ?? listFilterOf(opts.deps.policy),
    maxBodyBytes: opts.mcp.maxBodyBytes ?? config.server.maxBodyBytes,
    jsonBounds: jsonBoundsOf(config.server),
    pageSize: opts.pageSize ?? DEFAULT_PAGE_SIZE,
    now,
  };
  const credentials = deps.mcp.issuers === undefined ? { audience: [deps.resourceUrl] } : { audience: [deps.resourceUrl], allowedIssuers: deps.mcp.issuers };
  const door: Door<McpContext> = {
    name: 'mcp',
    open: createMcpContext,
    receive: (ctx) => receiveMcp(ctx, deps),
    // Every request, `initialize` and `server/discover` included, needs a token whose audience is
    // the endpoint's own public URL (RFC 8707: a token minted for another resource, even on this
    // gateway, is refused) from an issuer in `mcp.issuers` (default: any configured issuer).
    credentials: () => credentials,
    describe: (ctx) => describeMcp(ctx, deps),
    resolved(ctx) {
      const target = ctx.target;
      if (ctx.mcp.era !== 'modern' || target?.kind !== 'tool' || target.tool === undefined) return undefined;
      const mismatch = checkParamHeaders(ctx.req.headers, target.tool.definition, target.arguments);
      return mismatch === undefined ? undefined : headerMismatch(ctx, mismatch);
    },
    openCall: (ctx, relay) => openCallChannel(ctx, deps, relay),
    answerLocally: (ctx) => answerLocally(ctx, deps, door as unknown as Door),
    settle: settleOutcome,
    send: (ctx) => sendReply(ctx, deps),
    statusOf: (ctx, denial) => wireErrorOf(ctx, denial).status,
    refuse: (ctx, denial) => respondMcpDenied(ctx, denial, deps),
  };
  const run = createRunner(door, deps);
  const methods = servesStream(deps) ? 'GET, POST, DELETE' : 'POST, DELETE';
  return {
    path,
    resourceUrl: deps.resourceUrl,
    sessions,
    handles: (req) => splitUrl(req.url ?? '/').path === path,
    // CORS (cors.ts) wraps the pipeline: an allowed origin's preflight never enters it, and every
    // answer the pipeline gives an allowed origin is readable by its page.
    handle(req, res) {
      res.setHeader('vary', 'Origin');
      const origin = corsOriginOf(req, deps.allowedOrigins);
      if (origin !== undefined) {
        if (isPreflight(req)) {
          answerPreflight(req, res, origin, methods);
          return Promise.resolve();
        }
        allowOrigin(res, origin);
      }
      return run(req, res);
    },
  };
}

/** `tools/list` shows what `tools/call` could allow: the same policy, through the same input (tool-listing.ts). */
function listFilterOf(policy: Policy): ListFilter {
  return (tool, input) =>
    canList(policy, {
      identity: input.identity,
      ...(input.user === undefined ? {} : { user: input.user }),
      directory: input.directory,
      path: input.path,
      tool: tool.definition.name,
    });
}

const TOOLS_LIST_CHANGED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });

function withUpstreams(upstreams: Upstreams | undefined): { upstreams?: Upstreams } {
  return upstreams === undefined ? {} : { upstreams };
}
