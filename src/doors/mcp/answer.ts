import { deny, type Deny } from '../../pipeline/decision.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { errorMessage, resultMessage } from './jsonrpc.js';
import { forEra } from './era-result.js';
import { BEHALF_RPC } from './protocol.js';
import { sendEmpty, sendFinal } from './respond.js';
import { SseStream } from './sse-stream.js';

/**
 * How the door answers: an answer is settled first (what the client will get: status, bytes),
 * then the runner writes the audit record, then the answer is sent. A response the client sees
 * as complete therefore always has its record.
 */

const LOCAL = { kind: 'local' } as const;

/** Settles `result` as the response to the request (JSON, or the last event of the stream). */
export function answer(ctx: McpContext, result: Record<string, unknown>, headers?: Record<string, string>): Deny | undefined {
  const id = ctx.mcp.rpcId;
  if (id === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'answer without a request id' });
  const json = resultMessage(id, forEra(ctx, result));
  ctx.status = 200;
  ctx.bytesOut = (ctx.mcp.sse?.bytes ?? 0) + Buffer.byteLength(json);
  ctx.mcp.reply = headers === undefined ? { kind: 'result', json } : { kind: 'result', json, headers };
  ctx.outcome ??= LOCAL;
  return undefined;
}

/** Settles an answer with no body: 202 for a notification or a response, 204 for a DELETE. */
export function acknowledge(ctx: McpContext, status: 202 | 204): undefined {
  ctx.status = status;
  ctx.mcp.reply = { kind: 'empty', status };
  ctx.outcome ??= LOCAL;
  return undefined;
}

/**
 * Settles a call the client aborted. A client that went away gets nothing (and the record says
 * 499, the usual "client closed request"). A client that cancelled by notification must get no
 * response for the request, yet its POST needs an end: an SSE stream ends with no message; a
 * JSON-only client gets a `-31499` error, the one answer it can take.
 */
export function settleCancelled(ctx: McpContext, gone: boolean): undefined {
  ctx.detail = gone ? 'the client went away during the call' : 'cancelled by the client';
  ctx.status = gone ? 499 : 200;
  if (!gone && ctx.mcp.sse === undefined && ctx.mcp.accepts.sse) ctx.mcp.sse = new SseStream(ctx.res, ctx.requestId);
  ctx.mcp.reply = { kind: 'cancelled', gone };
  return undefined;
}

/** Sends the settled answer. */
export function sendReply(ctx: McpContext, deps: McpDeps): void {
  const reply = ctx.mcp.reply;
  switch (reply?.kind) {
    case 'result':
      // A client that takes only event streams gets its answer as a one-event stream.
      if (ctx.mcp.sse === undefined && !ctx.mcp.accepts.json) ctx.mcp.sse = new SseStream(ctx.res, ctx.requestId, reply.headers);
      ctx.bytesOut = sendFinal(ctx, 200, reply.json, reply.headers);
      return;
    case 'empty':
      sendEmpty(ctx, reply.status);
      return;
    case 'stream':
      if (ctx.mcp.session !== undefined) deps.streams.open(ctx, ctx.mcp.session.id);
      return;
    case 'cancelled': {
      if (reply.gone) return;
      if (ctx.mcp.sse !== undefined) {
        ctx.mcp.sse.end();
        return;
      }
      const json = errorMessage(ctx.mcp.rpcId, BEHALF_RPC.cancelled, 'Request cancelled', { reason: 'cancelled', requestId: ctx.requestId });
      ctx.bytesOut = sendFinal(ctx, 200, json);
      return;
    }
    default:
      if (!ctx.res.headersSent) ctx.res.destroy();
  }
}
