import { AsyncResource } from 'node:async_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ErrorCode, JSONRPCMessageSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createParser } from 'eventsource-parser';
import { getGlobalDispatcher, type Dispatcher } from 'undici';
import { outsideCalls } from './mcp-upstream-transport.js';

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
 * `notifications/cancelled` upstream), a broken connection with `TypeError('fetch failed',
 * { cause })`, and the caller's abort with the signal's reason (also after a
 * `notifications/cancelled`). What the upstream sends on the answer's SSE stream besides the
 * answer (log messages, sampling and elicitation requests, other notifications) goes to the SDK
 * client's own message handler, in the caller's async context, so the relay finds the client
 * request it belongs to; progress for this call goes to `onProgress`.
 *
 * This does NOT follow redirects (a 3xx is an HTTP error, as a POST endpoint should not move),
 * resume a broken SSE stream (`Last-Event-ID`; the call fails as a broken connection and the
 * caller decides about a retry), nor bound the size of the answer. It does NOT add any
 * credential: `headers` are all the caller's (the upstream's configured ones and the call's).
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
}

/** An answer that is not a usable `tools/call` answer (no result for the call, or an invalid one). */
export class UpstreamProtocolError extends Error {
  override readonly name = 'UpstreamProtocolError';
}

/** Largest SSE event the gateway buffers from an upstream, characters. */
const MAX_SSE_EVENT = 16 * 1024 * 1024;

let lastId = 0;

/** Whether `client` can take {@link callToolDirect}: an open Streamable HTTP session. */
export function canCallDirect(client: Client): boolean {
  return client.transport instanceof StreamableHTTPClientTransport;
}

/** Sends one `tools/call` over `client`'s Streamable HTTP session (see the module comment). */
export async function callToolDirect(client: Client, url: URL, call: DirectToolCall, dispatcher: Dispatcher = getGlobalDispatcher()): Promise<CallToolResult> {
  const transport = client.transport;
  if (!(transport instanceof StreamableHTTPClientTransport)) throw new TypeError('callToolDirect needs a Streamable HTTP session');
  // String ids never collide with the SDK's numeric ones on the same session.
  const id = `behalf-${++lastId}`;
  const onProgress = call.onProgress;
  const params = onProgress === undefined ? call.params : { ...call.params, _meta: { ...(call.params['_meta'] as object | undefined), progressToken: id } };
  const headers: Record<string, string> = { ...call.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (transport.sessionId !== undefined) headers['mcp-session-id'] = transport.sessionId;
  if (transport.protocolVersion !== undefined) headers['mcp-protocol-version'] = transport.protocolVersion;

  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, call.timeoutMs);
  const onAbort = () => abort.abort();
  call.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params }),
      signal: abort.signal,
    });
    return await answerOf(res, id, transport, onProgress);
  } catch (err) {
    if (timedOut || call.signal.aborted) {
      cancelUpstream(client, id, timedOut ? 'timed out' : String(call.signal.reason));
      if (call.signal.aborted) throw call.signal.reason;
      throw new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: call.timeoutMs });
    }
    if (err instanceof McpError || err instanceof StreamableHTTPError || err instanceof UpstreamProtocolError) throw err;
    throw new TypeError('fetch failed', { cause: err });
  } finally {
    clearTimeout(timer);
    call.signal.removeEventListener('abort', onAbort);
  }
}

/** Tells the upstream to stop working on request `id`; best effort, outside any call's scope. */
function cancelUpstream(client: Client, id: string, reason: string): void {
  outsideCalls(() => client.notification({ method: 'notifications/cancelled', params: { requestId: id, reason } })).catch(() => undefined);
}

type Message = Record<string, unknown>;

async function answerOf(res: Dispatcher.ResponseData, id: string, transport: StreamableHTTPClientTransport, onProgress: DirectToolCall['onProgress']): Promise<CallToolResult> {
  if (res.statusCode < 200 || res.statusCode >= 300 || res.statusCode === 202) {
    res.body.resume();
    throw new StreamableHTTPError(res.statusCode, `upstream answered HTTP ${res.statusCode}`);
  }
  const type = mediaType(res.headers['content-type']);
  let answer: Message | undefined;
  const take = (message: Message): void => {
    if (message['id'] === id && ('result' in message || 'error' in message)) {
      answer ??= message;
      return;
    }
    if (message['method'] === 'notifications/progress' && onProgress !== undefined) {
      const p = message['params'] as Record<string, unknown> | undefined;
      if (p?.['progressToken'] === id && typeof p['progress'] === 'number') {
        onProgress({
          progress: p['progress'],
          ...(typeof p['total'] === 'number' ? { total: p['total'] } : {}),
          ...(typeof p['message'] === 'string' ? { message: p['message'] } : {}),
        });
        return;
      }
    }
    // Anything else is the session's business: the SDK client handles it as if its transport
    // had read it (relayed requests, log messages, list changes).
    const parsed = JSONRPCMessageSchema.safeParse(message);
    if (parsed.success) transport.onmessage?.(parsed.data);
  };

  if (type === 'application/json') {
    let data: unknown;
    try {
      data = await res.body.json();
    } catch (err) {
      if (err instanceof SyntaxError) throw new UpstreamProtocolError('answer is not JSON');
      throw err;
    }
    for (const message of Array.isArray(data) ? data : [data]) if (isObject(message)) take(message);
  } else if (type === 'text/event-stream') {
    await readEvents(res.body, take, () => answer !== undefined);
  } else {
    res.body.resume();
    throw new UpstreamProtocolError(`unexpected content type ${type || '(none)'}`);
  }
  if (answer === undefined) {
    // An event stream that ended before the answer: the connection broke mid-call.
    if (type === 'text/event-stream') throw new TypeError('fetch failed', { cause: new Error('stream ended before the answer') });
    throw new UpstreamProtocolError('no answer for the call');
  }
  if ('error' in answer) {
    const error = answer['error'] as { code?: unknown; message?: unknown } | undefined;
    throw new McpError(typeof error?.code === 'number' ? error.code : ErrorCode.InternalError, typeof error?.message === 'string' ? error.message : 'error');
  }
  const result = CallToolResultSchema.safeParse(answer['result']);
  if (!result.success) throw new UpstreamProtocolError('invalid tools/call result');
  return result.data;
}

/** Reads an SSE body until it ends or `done()`; each event's JSON message goes to `take`. */
function readEvents(body: Dispatcher.ResponseData['body'], take: (message: Message) => void, done: () => boolean): Promise<void> {
  const parser = createParser({
    maxBufferSize: MAX_SSE_EVENT,
    onEvent(event) {
      if (event.event !== undefined && event.event !== 'message') return;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (isObject(message)) take(message);
    },
  });
  const decoder = new TextDecoder();
  return new Promise((resolve, reject) => {
    // The answer is normally the stream's last message; once it is in, nothing more is waited
    // for, but the stream is still read to its end (and what follows still handled).
    // Bound to the caller's async context: undici emits later chunks from the socket's, and
    // the relay finds the client request by the context a message is handled in.
    body.on('data', AsyncResource.bind((chunk: Buffer) => {
      try {
        parser.feed(decoder.decode(chunk, { stream: true }));
      } catch (err) {
        body.destroy(err as Error);
        return;
      }
      if (done()) resolve();
    }));
    body.on('end', resolve);
    body.on('error', reject);
  });
}

function mediaType(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return (value ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

function isObject(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
