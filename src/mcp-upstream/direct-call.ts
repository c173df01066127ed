import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ErrorCode, JSONRPCMessageSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import type { Dispatcher } from 'undici';
import type { ClientChannel } from './channel.js';
import { BrokenAnswerError } from './failure-kind.js';
import { inChannelScope, outsideCalls } from './transport.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../tools/http-tool.js';

/**
 * `tools/call` to a Streamable HTTP upstream, sent by the gateway itself over the SDK client's
 * open session instead of through the SDK's request machinery: one undici request with every
 * header in it, the answer parsed once and its result checked once (the SDK would build a
 * WHATWG Request and Response per call, check the JSON-RPC message and then the result, and arm
 * its own timers and abort listeners). The hot path of the MCP door is this call.
 *
 * It keeps the SDK's semantics, and fails the way the SDK's `callTool` fails, so callers handle
 * both alike: a JSON-RPC error answer rejects with `McpError(code)`, a non-2xx answer with
 * `StreamableHTTPError(status)`, the timeout with `McpError(RequestTimeout)` (after a
 * `notifications/cancelled` upstream), a connection that failed before the answer's head with
 * `TypeError('fetch failed', { cause })`, and the caller's abort with the signal's reason (also
 * after a `notifications/cancelled`; a signal aborted already sends nothing). One failure the
 * SDK has no form for: an answer whose head came and whose stream then broke, or ended, before
 * the answer rejects with {@link BrokenAnswerError} (the SDK would wait for its timeout), so the
 * caller can tell a broken request (the session answered it) from an unreachable upstream.
 * What the upstream sends on the answer's SSE stream besides the answer (log messages, sampling
 * and elicitation requests, other notifications) goes to the SDK client's own message handler,
 * in the scope of the call's `channel`, so the relay reaches the client request it belongs to;
 * progress for this call goes to `onProgress`. The answer is bounded at {@link MAX_ANSWER_BYTES}:
 * a JSON body in all, an SSE stream per event (progress and log events may follow one another
 * while the timeout allows).
 * A stream the upstream leaves open after the answer is read on, and closed at the call's
 * deadline.
 *
 * This does NOT follow redirects (a 3xx is an HTTP error: a POST endpoint should not move), nor
 * resume a broken SSE stream (`Last-Event-ID`: the call fails with `BrokenAnswerError` and the
 * caller decides about a retry). It does NOT add any credential: `headers` are all the caller's
 * (the upstream's configured ones and the call's).
 */

/** One direct `tools/call`. */
export interface DirectToolCall {
  /** `tools/call` params, `_meta` included (a progress token is added when `onProgress`). */
  readonly params: Readonly<Record<string, unknown>>;
  /** Every header to send besides the protocol ones (credential, assertion, request id). */
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly onProgress?: (progress: { progress: number; total?: number; message?: string }) => void;
  /** The client request the upstream's other messages during the call belong to (see mcp-upstream-relay.ts). */
  readonly channel?: ClientChannel;
}

/** An answer that is not a usable `tools/call` answer (no result for the call, an invalid one, or one too large). */
export class UpstreamProtocolError extends Error {
  override readonly name = 'UpstreamProtocolError';
  /** `message` is the audit detail; `clientText` the short text the client's `isError` result gets. */
  constructor(
    message: string,
    readonly clientText = 'upstream error',
  ) {
    super(message);
  }
}

/** Largest answer the gateway takes from an upstream: a JSON body in all, or one SSE event (as for config tools). */
export const MAX_ANSWER_BYTES = DEFAULT_MAX_RESPONSE_BYTES;

const tooLarge = () => new UpstreamProtocolError(`answer over ${MAX_ANSWER_BYTES} bytes`, 'upstream answered more than the gateway accepts');

let lastId = 0;

/** Whether `client` can take {@link callToolDirect}: an open Streamable HTTP session. */
export function canCallDirect(client: Client): boolean {
  return client.transport instanceof StreamableHTTPClientTransport;
}

/** Sends one `tools/call` over `client`'s Streamable HTTP session (see the module comment). */
export function callToolDirect(client: Client, url: URL, dispatcher: Dispatcher, call: DirectToolCall): Promise<CallToolResult> {
  const transport = client.transport;
  if (!(transport instanceof StreamableHTTPClientTransport)) return Promise.reject(new TypeError('callToolDirect needs a Streamable HTTP session'));
  if (call.signal.aborted) return Promise.reject(call.signal.reason);
  // String ids never collide with the SDK's numeric ones on the same session.
  const id = `behalf-${++lastId}`;
  const onProgress = call.onProgress;
  const params = onProgress === undefined ? call.params : { ...call.params, _meta: { ...(call.params['_meta'] as object | undefined), progressToken: id } };
  const headers: Record<string, string> = { ...call.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (transport.sessionId !== undefined) headers['mcp-session-id'] = transport.sessionId;
  if (transport.protocolVersion !== undefined) headers['mcp-protocol-version'] = transport.protocolVersion;

  const exchange = new CallExchange(id, transport, onProgress, call.channel, call.timeoutMs);
  const onAbort = () => exchange.abort('caller');
  call.signal.addEventListener('abort', onAbort, { once: true });
  try {
    dispatcher.dispatch({ origin: url.origin, path: url.pathname + url.search, method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params }) }, exchange);
  } catch (err) {
    exchange.refused(err);
  }
  return exchange.done.then(
    (result) => {
      call.signal.removeEventListener('abort', onAbort);
      return result;
    },
    (err: unknown) => {
      call.signal.removeEventListener('abort', onAbort);
      if (exchange.aborted !== undefined) {
        cancelUpstream(client, id, exchange.aborted === 'timeout' ? 'timed out' : String(call.signal.reason));
        if (exchange.aborted === 'caller') throw call.signal.reason;
        throw new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: call.timeoutMs });
      }
      throw err;
    },
  );
}

/** Tells the upstream to stop working on request `id`; best effort, outside any call's scope. */
function cancelUpstream(client: Client, id: string, reason: string): void {
  outsideCalls(() => client.notification({ method: 'notifications/cancelled', params: { requestId: id, reason } })).catch(() => undefined);
}

type Message = Record<string, unknown>;

/**
 * The undici handler of one call: the answer's body is taken as it arrives (a JSON body whole, an
 * event stream event by event), with no stream object in between. `done` settles once: with the
 * result, or with the error the module comment lists.
 */
class CallExchange implements Dispatcher.DispatchHandler {
  readonly done: Promise<CallToolResult>;
  /** Why the gateway aborted the call, if it did. */
  aborted: 'timeout' | 'caller' | undefined;
  private resolve!: (result: CallToolResult) => void;
  private reject!: (err: unknown) => void;
  private settled = false;
  private controller: Dispatcher.DispatchController | undefined;
  private kind: 'json' | 'sse' | 'ignore' = 'ignore';
  private chunks: Buffer[] = [];
  private size = 0;
  private decoder: TextDecoder | undefined;
  private parser: EventSourceParser | undefined;
  private answer: Message | undefined;
  /** The response ended (or failed, or never started): nothing more can arrive. */
  private ended = false;
  /**
   * The whole exchange's deadline: before the answer it fails the call; after it, it closes a
   * stream the upstream left open (the spec says it SHOULD end it after the answer), so a
   * misbehaving upstream cannot hold connections for ever.
   */
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly id: string,
    private readonly transport: StreamableHTTPClientTransport,
    private readonly onProgress: DirectToolCall['onProgress'],
    private readonly channel: ClientChannel | undefined,
    timeoutMs: number,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(() => this.abort('timeout'), timeoutMs);
  }

  abort(why: 'timeout' | 'caller'): void {
    if (this.ended) return;
    if (!this.settled) {
      this.aborted = why;
      this.fail(new Error(why));
    }
    this.controller?.abort(new Error(why));
  }

  /** Nothing more will arrive: the deadline is no longer needed. */
  private finish(): void {
    this.ended = true;
    clearTimeout(this.timer);
  }

  /** The request could not even be sent (undici refused it). */
  refused(err: unknown): void {
    this.finish();
    this.fail(err);
  }

  fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const known = err instanceof McpError || err instanceof StreamableHTTPError || err instanceof UpstreamProtocolError || err instanceof BrokenAnswerError;
    this.reject(known || this.aborted !== undefined ? err : new TypeError('fetch failed', { cause: err }));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.aborted !== undefined) controller.abort(new Error(this.aborted));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (status < 200) return;
    if (status >= 300 || status === 202) {
      // The body is read and dropped, so the connection stays usable.
      this.fail(new StreamableHTTPError(status, `upstream answered HTTP ${status}`));
      return;
    }
    const type = mediaType(headers['content-type']);
    if (type === 'application/json') this.kind = 'json';
    else if (type === 'text/event-stream') {
      this.kind = 'sse';
      this.decoder = new TextDecoder();
      this.parser = createParser({
        maxBufferSize: MAX_ANSWER_BYTES,
        onEvent: (event) => this.onEvent(event),
        onError: (err) => {
          if (err.type === 'max-buffer-size-exceeded') throw tooLarge();
        },
      });
    } else this.fail(new UpstreamProtocolError(`unexpected content type ${MEDIA_TYPE.test(type) ? type.slice(0, 100) : '(none or invalid)'}`));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.kind === 'json') {
      if (this.settled) return;
      this.size += chunk.length;
      if (this.size > MAX_ANSWER_BYTES) {
        this.fail(tooLarge());
        controller.abort(new Error('answer too large'));
        return;
      }
      this.chunks.push(chunk);
      return;
    }
    if (this.kind !== 'sse') return;
    try {
      this.parser!.feed(this.decoder!.decode(chunk, { stream: true }));
    } catch (err) {
      this.fail(err);
      controller.abort(err as Error);
    }
  }

  onResponseEnd(): void {
    this.finish();
    if (this.kind === 'json' && !this.settled) {
      let data: unknown;
      try {
        data = JSON.parse(Buffer.concat(this.chunks).toString('utf8'));
      } catch {
        this.fail(new UpstreamProtocolError('answer is not JSON'));
        return;
      }
      this.chunks = [];
      try {
        for (const message of Array.isArray(data) ? data : [data]) if (isObject(message)) this.take(message);
      } catch (err) {
        // A handler downstream (progress, the SDK client) threw: the call fails, undici is not disturbed.
        this.fail(err);
        return;
      }
    }
    if (this.settled) return;
    // An event stream that ended before the answer: the upstream cut this call's answer short.
    if (this.kind === 'sse') this.fail(new BrokenAnswerError(new Error('stream ended before the answer')));
    else this.fail(new UpstreamProtocolError('no answer for the call'));
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.finish();
    // After a 2xx head the session took the call: it is this answer that broke, not the session.
    this.fail(this.kind === 'ignore' ? err : new BrokenAnswerError(err));
  }

  private onEvent(event: EventSourceMessage): void {
    if (event.event !== undefined && event.event !== 'message') return;
    let message: unknown;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (isObject(message)) this.take(message);
  }

  private take(message: Message): void {
    if (message['id'] === this.id && ('result' in message || 'error' in message)) {
      if (this.answer === undefined) this.settle((this.answer = message));
      return;
    }
    if (message['method'] === 'notifications/progress' && this.onProgress !== undefined) {
      const p = message['params'] as Record<string, unknown> | undefined;
      if (p?.['progressToken'] === this.id && typeof p['progress'] === 'number') {
        if (!this.settled)
          this.onProgress({
            progress: p['progress'],
            ...(typeof p['total'] === 'number' ? { total: p['total'] } : {}),
            ...(typeof p['message'] === 'string' ? { message: p['message'] } : {}),
          });
        return;
      }
    }
    // Anything else is the session's business: the SDK client handles it as if its transport had
    // read it (relayed requests, log messages, list changes), in the scope of the call's client
    // request (entered only here: the hot path pays nothing for async context tracking).
    const parsed = JSONRPCMessageSchema.safeParse(message);
    if (parsed.success) inChannelScope(this.channel, () => this.transport.onmessage?.(parsed.data));
  }

  /** The answer is in (normally the stream's last message: the rest is still read, not waited for). */
  private settle(answer: Message): void {
    if (this.settled) return;
    if ('error' in answer) {
      const error = answer['error'] as { code?: unknown; message?: unknown } | undefined;
      this.fail(new McpError(typeof error?.code === 'number' ? error.code : ErrorCode.InternalError, typeof error?.message === 'string' ? error.message : 'error'));
      return;
    }
    const result = CallToolResultSchema.safeParse(answer['result']);
    if (!result.success) {
      this.fail(new UpstreamProtocolError('invalid tools/call result'));
      return;
    }
    this.settled = true;
    this.resolve(result.data);
  }
}

/** A media type's essence, as the audit detail may quote it (anything else from the upstream is not quoted). */
const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

function mediaType(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return (value ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

function isObject(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
