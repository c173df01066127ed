import type { ServerResponse } from 'node:http';
import { challengeFor } from '../../authenticate/index.js';
import { deny, type Deny } from '../../pipeline/decision.js';
import type { Reason } from '../../pipeline/reasons.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { SseStream } from './sse-stream.js';
import { forEra } from './era-result.js';
import { errorMessage, resultMessage } from './jsonrpc.js';
import { wireErrorOf } from './wire-errors.js';

/**
 * How the endpoint writes: one JSON object (`application/json`), or an SSE stream scoped to the
 * request (`text/event-stream`) when progress notifications come before the result. Every
 * response carries `X-Request-Id` and `Cache-Control: no-store` (answers are per user).
 */

/** Response headers every JSON answer gets. */
function jsonHeaders(ctx: McpContext, length: number, extra?: Record<string, string>): Record<string, string | number> {
  return {
    'content-type': 'application/json',
    'content-length': length,
    'cache-control': 'no-store',
    'x-request-id': ctx.requestId,
    ...extra,
  };
}

/**
 * Sends the final JSON-RPC message of a request: as the last SSE event if the response already
 * became a stream, else as a JSON body with `status`. Returns the response's body bytes in all
 * (the whole stream's, for SSE).
 */
export function sendFinal(ctx: McpContext, status: number, json: string, extraHeaders?: Record<string, string>): number {
  const sse = ctx.mcp.sse;
  if (sse !== undefined) {
    sse.send(json);
    sse.end();
    return sse.bytes;
  }
  if (ctx.res.headersSent) {
    ctx.res.destroy();
    return 0;
  }
  const length = Buffer.byteLength(json);
  ctx.res.writeHead(status, jsonHeaders(ctx, length, extraHeaders));
  ctx.res.end(json);
  return length;
}

/** Answers with a status and no body (202 for notifications and responses, 204 for DELETE). */
export function sendEmpty(ctx: McpContext, status: 202 | 204): void {
  ctx.res.writeHead(status, { 'cache-control': 'no-store', 'x-request-id': ctx.requestId });
  ctx.res.end();
}

/**
 * A denial answered with a specific JSON-RPC error code (and extra `error.data`): the stage
 * records the code on the context, the denial carries status, reason and message as usual.
 */
export function rpcDeny(
  ctx: McpContext,
  status: number,
  reason: Reason,
  code: number,
  message: string,
  extra: { detail?: string; data?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Deny {
  ctx.mcp.errorCode = code;
  if (extra.data !== undefined) ctx.mcp.errorData = extra.data;
  return deny(status, reason, message, {
    ...(extra.detail === undefined ? {} : { detail: extra.detail }),
    ...(extra.headers === undefined ? {} : { headers: extra.headers }),
  });
}

/**
 * Sends a denial as a JSON-RPC error: `{ code, message, data: { reason, requestId } }` with the
 * denial's HTTP status; a tool call's invalid arguments as a result with `isError: true` instead
 * (wire-errors.ts), whose request id is in `X-Request-Id`. 401s and missing scopes carry the
 * bearer challenge (RFC 6750, RFC 9728): `resource_metadata` always; on a 401 `scope="..."`
 * naming the endpoint's scopes (its `scopes_supported`), on a 403 `error="insufficient_scope",
 * scope="..."` naming every scope the call needs (the MCP step-up). The detail stays in the audit
 * record.
 */
export function respondMcpDenied(ctx: McpContext, decision: Deny, deps: McpDeps): void {
  const wire = wireErrorOf(ctx, decision);
  const headers: Record<string, string> = { ...decision.headers };
  const challenge = challengeFor(decision, deps.resourceMetadataUrl, deps.resourceScopes);
  if (challenge !== undefined) headers['www-authenticate'] = challenge;
  if (wire.status === 503) headers['retry-after'] ??= '1';
  const data = { ...wire.data, reason: decision.reason, requestId: ctx.requestId };
  const id = ctx.mcp.rpcId;
  const json =
    wire.inputRequired !== undefined && id !== undefined
      ? resultMessage(id, forEra(ctx, { ...wire.inputRequired, resultType: 'input_required' }))
      : wire.toolError === true && id !== undefined
        ? resultMessage(id, forEra(ctx, { content: [{ type: 'text', text: wire.message }], isError: true }))
        : errorMessage(id, wire.code, wire.message, data);
  // A JSON-RPC error of a request that went through (HTTP 200) takes the form the client accepts.
  if (wire.status === 200 && ctx.mcp.sse === undefined && !ctx.mcp.accepts.json && !ctx.res.headersSent) {
    ctx.mcp.sse = new SseStream(ctx.res, ctx.requestId, headers);
  }
  ctx.bytesOut = sendFinal(ctx, wire.status, json, headers);
}
