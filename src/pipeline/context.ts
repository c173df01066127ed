import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DirectoryEntry, Identity } from '../authenticate/identity.js';
import type { RouteConfig } from '../config/schema.js';
import type { CanonicalQuery } from '../lib/canonical-query.js';
import { isoTime } from '../lib/iso-time.js';
import { newRequestId } from '../lib/request-id.js';
import { traceOf, type TraceContext } from '../lib/trace-context.js';
import type { DirectorySnapshot } from '../resolve/directory.js';
import type { ToolCallResult } from '../tools/types.js';
import type { Decision } from './decision.js';
import type { Target } from './target.js';

/** The doors a request can come in by. */
export type DoorName = 'http' | 'mcp';

/**
 * What forward got for an allowed request, for screen(out) and for the door to answer with:
 * a tool's result, an upstream's result for a relayed request, a call the client cancelled or
 * left, or `answered` when the response was already written (a proxied HTTP response streams
 * through, a door answered a protocol message itself).
 */
export type Outcome =
  | { readonly kind: 'tool'; readonly result: ToolCallResult }
  | { readonly kind: 'upstream'; readonly result: Readonly<Record<string, unknown>> }
  | { readonly kind: 'cancelled'; readonly gone: boolean }
  | { readonly kind: 'local' }
  | { readonly kind: 'answered' };

/**
 * Everything the stages learn about one request, in the order they learn it, whatever door it
 * came in by. Created by the door, filled by the stages, read by the audit stage at the end. A
 * door keeps its wire state in its own extension of this (the MCP door's `mcp`); no stage reads it.
 */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly door: DoorName;
  readonly requestId: string;
  /** `performance.now()` at receipt, ms. */
  readonly startedAt: number;
  /** ISO-8601 wall time at receipt. */
  readonly time: string;
  /**
   * W3C trace context: the caller's valid `traceparent` header, or a new trace; the gateway's span
   * id (lib/trace-context.ts). The MCP door adopts a valid `params._meta.traceparent` when the
   * header gave none.
   */
  trace: TraceContext;
  readonly method: string;
  /** Path without the query, exactly as received (never normalised). */
  readonly path: string;
  /** `?...` or `''`. */
  readonly search: string;
  /** HTTP door: the route the path names, looked up on receipt (the 401 names its protected resource). */
  route?: RouteConfig;
  /** What the request asks for (set by the door's parser, resolved by resolve). */
  target?: Target;
  /** Set by authenticate. */
  identity?: Identity;
  /** Set by resolve: the caller's directory entry. */
  user?: DirectoryEntry;
  /** Set by resolve: the directory snapshot every decision of this request uses. */
  directory?: DirectorySnapshot;
  /** The bounded request body, undefined when there is none. */
  body?: Buffer;
  /** Set by screen(in) for a route: the one reading of the query (`lib/canonical-query.ts`). */
  query?: CanonicalQuery;
  /** Set by screen(in) for a route: the parsed JSON body, or null. */
  json?: unknown;
  /** `sha256:<base64url>` of the body (of the empty string when none). */
  bodyDigest?: string;
  /** A tool call's or prompt's arguments: `sha256:<base64url>` of their canonical JSON (set by screen(in)). */
  argumentsDigest?: string;
  /** The protocol method a door names the request by (the JSON-RPC method), for the audit record. */
  operation?: string;
  /** The backend that served it besides a route's (a tool source's or an upstream's id), for the audit record. */
  backend?: string;
  /** The session the request belongs to, as the audit record names it (a digest: audit/session-ref.ts), set by a door that has sessions. */
  session?: string;
  /** The decision that ended the pipeline (a denial, or the allow that let it forward). */
  decision?: Decision;
  /** Set by approve: the approval this request used (its id, and who gave it), for the audit record. */
  approval?: { readonly id: string; readonly by: string };
  /** Set by forward. */
  outcome?: Outcome;
  /** A tool answered with an error the model sees (`isError`). */
  resultError?: boolean;
  /** Requests relayed to the client while this one was served (an upstream's sampling or elicitation), for the audit `detail`. */
  relayed?: string[];
  /** HTTP status of the answer, once the door settled it (for the audit record before it is sent). */
  status?: number;
  upstreamStatus?: number;
  bytesIn: number;
  bytesOut: number;
  /** Non-secret detail for the audit record. */
  detail?: string;
  /** True once the request's audit record was appended (one record per request). */
  recorded: boolean;
  /**
   * True once a durable intent record was written for this request (it changes data): the final
   * record is then its outcome, and the answer goes out even if that one cannot be written.
   */
  intent: boolean;
}

/** Splits `req.url` into path and search without URL parsing (hot path); the URL is origin-form. */
export function splitUrl(url: string): { path: string; search: string } {
  const q = url.indexOf('?');
  return q === -1 ? { path: url, search: '' } : { path: url.slice(0, q), search: url.slice(q) };
}

/**
 * The context of a request that came in by `door`, received at `startedAt` (`performance.now()`)
 * and `wallMs` (the gateway's wall clock). Every field is present from the start (as
 * `undefined` when not known yet): one object shape for every request keeps the hot path cheap.
 */
export function createContext(req: IncomingMessage, res: ServerResponse, door: DoorName, startedAt: number, wallMs: number): RequestContext {
  const { path, search } = splitUrl(req.url ?? '/');
  return {
    req,
    res,
    door,
    requestId: newRequestId(),
    startedAt,
    time: isoTime(wallMs),
    trace: traceOf(req.headers),
    method: req.method ?? 'GET',
    path,
    search,
    route: undefined,
    target: undefined,
    identity: undefined,
    user: undefined,
    directory: undefined,
    body: undefined,
    query: undefined,
    json: undefined,
    bodyDigest: undefined,
    argumentsDigest: undefined,
    operation: undefined,
    backend: undefined,
    session: undefined,
    decision: undefined,
    approval: undefined,
    outcome: undefined,
    resultError: undefined,
    relayed: undefined,
    status: undefined,
    upstreamStatus: undefined,
    bytesIn: 0,
    bytesOut: 0,
    detail: undefined,
    recorded: false,
    intent: false,
  };
}
