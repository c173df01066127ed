import type { KeptValue } from './kept-values.js';

/**
 * One audit record: one per request, allowed or not. Holds no token, no secret and no body:
 * only a SHA-256 digest of the body, and what the tool or route setting keeps of the arguments
 * or query (bounded, credentials digested: kept-values.ts).
 */
export interface AuditRecord {
  /** ISO-8601 time the request was received. */
  readonly time: string;
  /** Crypto-random request id (also sent to the client as `X-Request-Id`). */
  readonly requestId: string;
  /** Which door: `http` (routes), `mcp`, `well-known`. */
  readonly door: string;
  readonly route?: string;
  readonly tool?: string;
  readonly method: string;
  /** Path; query values are replaced by `` unless `audit.includeQueryValues`. */
  readonly path: string;
  readonly user?: string;
  readonly tenant?: string;
  readonly client?: string;
  readonly issuer?: string;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly ruleId?: string;
  /** HTTP status sent to the client. */
  readonly status: number;
  readonly upstreamStatus?: number;
  /** Milliseconds from receipt to the end of the response. */
  readonly latencyMs: number;
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  /** `sha256:<base64url>` of the forwarded request body, when there was one. */
  readonly bodyDigest?: string;
  /** Short non-secret detail for operators (why a token was rejected, ...). */
  readonly detail?: string;
  /** MCP door: the JSON-RPC method (`tools/call`, `initialize`, ...; `DELETE` for a session end). */
  readonly rpcMethod?: string;
  /** MCP door: the tool source that served the call (`config`, or the upstream's id), or the upstream of a resource, prompt or completion. */
  readonly upstream?: string;
  /** MCP door: the resource URI read, subscribed to or completed for (bounded, even when unknown). */
  readonly resource?: string;
  /** MCP door: the prompt got or completed for (namespaced, bounded, even when unknown). */
  readonly prompt?: string;
  /** MCP door: `sha256:<base64url>` of the canonical JSON of the tool arguments (never the arguments). */
  readonly argsDigest?: string;
  /** MCP door: the tool answered with `isError: true` (a backend failure the model sees). */
  readonly resultError?: boolean;
  /**
   * For a request that changes data, two records: `intent`, written durably before anything is
   * forwarded (who, what, the decision, the body or arguments digest; `status` is 0, nothing has
   * been answered yet), then `outcome` with the same request id once it is answered. An intent
   * without an outcome means the gateway stopped or the trail failed mid-request: the backend
   * may have acted. Absent on the single record of any other request.
   */
  readonly phase?: 'intent' | 'outcome';
  /** W3C trace id (32 hex): the caller's `traceparent`'s, or a new one (lib/trace-context.ts). */
  readonly traceId?: string;
  /** The gateway's span for this request (16 hex): the parent-id backends received in `traceparent`. */
  readonly spanId?: string;
  /** The caller's span (16 hex), when it sent a valid `traceparent`. */
  readonly parentSpanId?: string;
  /** ISO-8601 time the record was made: the end of the request (for an intent, when it was written). `time` is the receipt. */
  readonly endTime?: string;
  /**
   * MCP door, session-based protocols: `sha256:<16 hex>` of the `Mcp-Session-Id` (never the id:
   * it names a live session to whoever holds it), the same on every record of the session.
   */
  readonly session?: string;
  /** Tool call or prompt: the arguments kept (`tools[].audit.arguments`), credentials as `sha256:<16 hex>`. */
  readonly args?: Readonly<Record<string, KeptValue>>;
  /** Route request: the query parameters kept, by decoded name (`routes[].audit.query`). */
  readonly query?: Readonly<Record<string, KeptValue>>;
  /** Names of arguments or query parameters that were sent and not kept (objects under `scalars`, names not listed). */
  readonly omitted?: readonly string[];
}

/** A record as stored: chained to its predecessor. */
export interface StoredAuditRecord extends AuditRecord {
  /** Position in the trail, starting at 1. */
  readonly seq: number;
  /** `hash` of the previous stored record (`''` for the first). */
  readonly prev: string;
  /** SHA-256 (hex) over the canonical JSON of this record including `seq` and `prev`. */
  readonly hash: string;
}
