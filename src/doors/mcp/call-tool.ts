import { trackRequest } from './in-flight.js';
import type { Deny } from '../../pipeline/decision.js';
import type { ToolCallContext, ToolCallResult } from '../../tools/types.js';
import { answer, countAllowed, recordFirst } from './answer.js';
import { openClientChannel } from './client-channel.js';
import type { McpContext, McpDeps } from './context.js';
import { errorMessage, notificationMessage } from './jsonrpc.js';
import { BEHALF_RPC } from './protocol.js';
import { sendFinal, SseStream } from './respond.js';

/**
 * `tools/call`, once resolve, screen and authorize let it through: the tool's source calls the
 * backend or upstream on the verified user's behalf. Progress from the source reaches the client
 * as `notifications/progress` on an SSE response when the request asked for it
 * (`_meta.progressToken`) and accepts `text/event-stream`; the response turns into a stream at
 * the first progress event, so a call without progress is a plain JSON answer. The call is
 * aborted when the client goes away or cancels it (`notifications/cancelled`). A tool of an
 * upstream MCP server may meanwhile log or ask the client (sampling, elicitation): that is relayed
 * on the same stream (see client-channel.ts); a config tool's call has no such channel.
 */
export async function callTool(ctx: McpContext, deps: McpDeps): Promise<Deny | undefined> {
  const tool = ctx.mcp.tool!;
  const id = ctx.mcp.rpcId!;
  const tracked = trackRequest(ctx.res, deps.inFlight, ctx.mcp.session?.id, id);
  const token = ctx.mcp.progressToken;
  const onProgress =
    token !== undefined && ctx.mcp.accepts.sse
      ? (p: { progress: number; total?: number; message?: string }) => {
          if (tracked.signal.aborted || typeof p.progress !== 'number') return;
          ctx.mcp.sse ??= new SseStream(ctx.res, ctx.requestId);
          const params: Record<string, unknown> = { progressToken: token, progress: p.progress };
          if (typeof p.total === 'number') params['total'] = p.total;
          if (typeof p.message === 'string') params['message'] = p.message;
          ctx.mcp.sse.send(notificationMessage('notifications/progress', params));
        }
      : undefined;

  const channel = tool.source.kind === 'mcp' ? openClientChannel(ctx, deps, tracked.signal) : undefined;
  const callContext: ToolCallContext = {
    identity: ctx.identity!,
    ...(ctx.user === undefined ? {} : { user: ctx.user }),
    requestId: ctx.requestId,
    argumentsDigest: ctx.mcp.argsDigest!,
    signal: tracked.signal,
    ...(onProgress === undefined ? {} : { onProgress }),
    ...(channel === undefined ? {} : { channel }),
  };
  let result: ToolCallResult;
  try {
    result = await tool.source.call(tool.definition.name, ctx.mcp.args ?? {}, callContext);
  } catch (err) {
    if (tracked.signal.aborted) return cancelled(ctx, deps, tracked.gone);
    throw err;
  } finally {
    channel?.close();
    tracked.release();
  }
  if (tracked.signal.aborted) return cancelled(ctx, deps, tracked.gone);

  if (result.upstreamStatus !== undefined) ctx.upstreamStatus = result.upstreamStatus;
  if (result.isError === true) ctx.mcp.resultError = true;
  if (result.detail !== undefined) ctx.detail = result.detail;
  // Only what MCP defines goes to the client; `upstreamStatus` and `detail` are for the record.
  const wire: Record<string, unknown> = { content: result.content };
  if (result.structuredContent !== undefined) wire['structuredContent'] = result.structuredContent;
  if (result.isError === true) wire['isError'] = true;
  return answer(ctx, deps, wire);
}

/**
 * The call was aborted. A client that went away gets nothing (and the record says 499, the
 * usual "client closed request"). A client that cancelled by notification must get no response
 * for the request, yet its POST needs an end: an SSE stream ends with no message; a JSON-only
 * client gets a `-31499` error, the one answer it can take.
 */
export async function cancelled(ctx: McpContext, deps: McpDeps, gone: boolean): Promise<Deny | undefined> {
  ctx.detail = gone ? 'the client went away during the call' : 'cancelled by the client';
  ctx.mcp.status = gone ? 499 : 200;
  if (!gone && ctx.mcp.sse === undefined && ctx.mcp.accepts.sse) ctx.mcp.sse = new SseStream(ctx.res, ctx.requestId);
  const refused = await recordFirst(ctx, deps);
  if (refused !== undefined) return refused;
  countAllowed(ctx, deps);
  if (gone) return undefined;
  if (ctx.mcp.sse !== undefined) {
    ctx.mcp.sse.end();
    return undefined;
  }
  const json = errorMessage(ctx.mcp.rpcId, BEHALF_RPC.cancelled, 'Request cancelled', { reason: 'cancelled', requestId: ctx.requestId });
  ctx.bytesOut = sendFinal(ctx, 200, json);
  return undefined;
}
