import type { RequestContext } from '../pipeline/context.js';
import { deny, type Deny } from '../pipeline/decision.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import type { Door } from '../pipeline/door.js';
import type { ToolTarget } from '../pipeline/target.js';
import type { ToolCallContext, ToolCallResult } from '../tools/types.js';
import { nestsDeeper } from '../lib/json-depth.js';
import { throughChannel } from './call-channel.js';

/**
 * Calls a tool once resolve, screen(in), authorize and limit let it through: the tool's source (a
 * config tool's HTTP backend, or an upstream MCP server) calls the backend on the verified user's
 * behalf, with the identity prepared by forward/identity/. The door's call channel carries the
 * cancellation (the client cancelled or went away), progress, and for an upstream MCP server its
 * messages during the call (log, sampling, elicitation). A backend's failure is a result the
 * model sees (`isError`), not a denial; the outcome goes to screen(out) and the door's answer.
 * A result nested deeper than `server.maxJsonDepth` is replaced by an `isError` result (see
 * {@link boundedResult}): the tool ran, so the record says so, with `resultError` and the detail.
 *
 * This does NOT send the client's token (none is in the call context) and does NOT decide
 * anything about the call (the stages before did).
 */
export async function callTool(ctx: RequestContext, deps: PipelineDeps, door: Door, target: ToolTarget): Promise<Deny | undefined> {
  const tool = target.tool;
  const identity = ctx.identity;
  const argumentsDigest = ctx.argumentsDigest;
  if (tool === undefined || identity === undefined || argumentsDigest === undefined) {
    return deny(500, 'internal-error', 'internal error', { detail: 'forward ran before resolve/screen' });
  }
  const call = door.openCall(ctx, tool.source.kind === 'mcp');
  const callContext: ToolCallContext = {
    identity,
    ...(ctx.user === undefined ? {} : { user: ctx.user }),
    requestId: ctx.requestId,
    trace: ctx.trace,
    argumentsDigest,
    signal: call.signal,
    ...(call.onProgress === undefined ? {} : { onProgress: call.onProgress }),
    ...(call.relay === undefined ? {} : { channel: call.relay }),
  };
  const answered = await throughChannel(ctx, call, () => tool.source.call(tool.definition.name, target.arguments, callContext));
  if (answered === undefined) return undefined;
  const result = boundedResult(answered, deps.config.server.maxJsonDepth);
  if (result.upstreamStatus !== undefined) ctx.upstreamStatus = result.upstreamStatus;
  if (result.isError === true) ctx.resultError = true;
  if (result.detail !== undefined) ctx.detail = result.detail;
  if (result.failure !== undefined) {
    // The model gets the isError result; the record and the metrics say what a route request's would.
    ctx.decision = deny(FAILURE_STATUS[result.failure], result.failure, 'bad gateway', { detail: result.detail ?? result.failure });
    deps.metrics.upstreamFailures.inc({ route: tool.definition.name, reason: result.failure });
  }
  ctx.outcome = { kind: 'tool', result };
  return undefined;
}

/**
 * `result`, or, when its `content` or `structuredContent` nests more than `maxDepth` levels (the
 * result object itself is level 1), an `isError` result saying so in its place: the model gets
 * a short text, the record keeps the backend's status, and the detail says the result was
 * replaced. Nothing that recurses (the answer's `JSON.stringify`) has read the result before.
 *
 * This does NOT bound the result's size: a config tool's answer is bounded in bytes when it is
 * read, an upstream's over HTTP too (`MAX_ANSWER_BYTES`).
 */
export function boundedResult(result: ToolCallResult, maxDepth: number): ToolCallResult {
  if (!nestsDeeper(result.content, maxDepth - 1) && !nestsDeeper(result.structuredContent, maxDepth - 1)) return result;
  const replaced = `result nested deeper than ${maxDepth} levels, replaced by an isError result`;
  return {
    content: [{ type: 'text', text: 'the tool answered a result nested deeper than the gateway accepts' }],
    isError: true,
    ...(result.upstreamStatus === undefined ? {} : { upstreamStatus: result.upstreamStatus }),
    detail: result.detail === undefined ? replaced : `${result.detail}; ${replaced}`,
  };
}

/** The status a route request gets for the same failure (the record of a tool call keeps the status the client got). */
const FAILURE_STATUS = { 'upstream-unavailable': 502, 'upstream-timeout': 504, 'upstream-error': 502 } as const;
