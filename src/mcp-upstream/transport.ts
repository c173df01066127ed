import { AsyncLocalStorage } from 'node:async_hooks';
import { setMaxListeners } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { getGlobalDispatcher, type Dispatcher } from 'undici';
import { DEFAULT_INHERITED_ENV_VARS, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.js';
import type { ClientChannel } from './channel.js';
import { brokenAnswerEvent, failureOf } from './failure-kind.js';

/**
 * How the gateway talks to one upstream MCP server: the SDK's Streamable HTTP or stdio client
 * transport, plus what the SDK does not offer: headers that differ per request, and knowing which
 * client request an upstream message belongs to.
 *
 * The SDK's `requestInit.headers` are fixed for the transport's life (they carry the gateway's
 * own credential for the upstream), but the identity assertion is signed for one user's one
 * request. The transport is shared by every user's requests, so the per-request headers travel in
 * an `AsyncLocalStorage`: {@link withCallHeaders} runs the SDK's request inside a scope, and the
 * transport's `fetch` adds the scope's headers to the POST that carries that request, and to no
 * other request (not the session's GET stream, not a `notifications/cancelled` or a response sent
 * later from the same async context, which have another body).
 *
 * The same scope carries the {@link ClientChannel} of the client request being served
 * ({@link withClientChannel}). The SDK reads the SSE response of that POST in the async context
 * that sent it, so a message the upstream sends on that stream (a log message, a
 * `sampling/createMessage`) is handled where {@link currentChannel} names the right client
 * request. Messages on the session's GET stream, and everything from a stdio upstream, arrive
 * outside any scope: they belong to no client request, and are not relayed.
 *
 * `tools/call` to an HTTP upstream does not go through the SDK's request machinery (see
 * mcp-upstream-direct.ts): it knows its channel and enters the scope ({@link inChannelScope})
 * only to hand the SDK a message other than its answer, so the hot path runs with no scope.
 */

interface CallScope {
  readonly headers: Readonly<Record<string, string>>;
  /** The body of the POST the headers were added to, once known (a redirect resends it). */
  body?: unknown;
  /** The client request this upstream request serves, when the door relays to it. */
  readonly channel?: ClientChannel;
}

const perCall = new AsyncLocalStorage<CallScope>();
const defaultFetch = dispatcherFetch();
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Runs `fn` (one SDK request) so that the first POST it sends to an HTTP upstream carries
 * `headers` in addition to the transport's own. Headers set here win over the transport's. What
 * the upstream sends on that request's stream goes to `channel` (default: the channel of an
 * enclosing {@link withClientChannel}).
 *
 * This does NOT apply to stdio upstreams (no headers there: use `_meta`), and does NOT isolate
 * anything `fn` starts besides its first POST: never reconnect inside `fn` (connections open in
 * {@link outsideCalls}), or the initialize request would carry this call's assertion.
 */
export function withCallHeaders<T>(headers: Readonly<Record<string, string>>, fn: () => Promise<T>, channel: ClientChannel | undefined = perCall.getStore()?.channel): Promise<T> {
  return perCall.run(channel === undefined ? { headers } : { headers, channel }, fn);
}

/**
 * Runs `fn` (the door serving one client request through an upstream) so that what the upstream
 * sends back on that request's stream reaches `channel`. Adds no header.
 */
export function withClientChannel<T>(channel: ClientChannel, fn: () => Promise<T>): Promise<T> {
  return perCall.run({ headers: NO_HEADERS, channel }, fn);
}

/** The channel of the client request the current upstream message belongs to, if any. */
export function currentChannel(): ClientChannel | undefined {
  return perCall.getStore()?.channel;
}

/**
 * Runs `fn` (handling a message an upstream sent during one client request) so that the relay
 * finds `channel`, or outside any request's scope when there is none. Adds no header.
 */
export function inChannelScope<T>(channel: ClientChannel | undefined, fn: () => T): T {
  return channel === undefined ? perCall.exit(fn) : perCall.run({ headers: NO_HEADERS, channel }, fn);
}

/**
 * Runs `fn` outside any request's scope: what it starts (a connection, its GET stream, its
 * retries) never carries a request's headers and never reaches a request's channel.
 */
export function outsideCalls<T>(fn: () => T): T {
  return perCall.exit(fn);
}

function perCallFetch(base: FetchLike): FetchLike {
  return (url, init) => {
    const call = perCall.getStore();
    if (call === undefined || init === undefined || init.method !== 'POST') return base(url, init);
    if (call.body === undefined) call.body = init.body;
    if (init.body !== call.body) return base(url, init);
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(call.headers)) headers.set(name, value);
    return base(url, { ...init, headers });
  };
}

/** Statuses whose response has no body. */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * The SDK transport's `fetch` over undici's request API (the global dispatcher, as the global
 * fetch uses): no WHATWG Request per call (whose body stream undici tees for `redirect: manual`),
 * no per-request listener left on the SDK's session-wide AbortSignal until GC. A JSON answer is
 * read whole; an event stream is handed over as a stream (one that breaks under a request ends
 * with that request's broken-answer error, see `answerStream`). Redirects are returned, not
 * followed (the SDK follows same-origin ones itself). Failures reject like fetch's: `TypeError('fetch
 * failed', { cause })`, or the signal's reason when aborted.
 *
 * This does NOT handle bodies other than strings (it falls back to the global fetch).
 */
export function dispatcherFetch(dispatcher?: Dispatcher): FetchLike {
  const seen = new WeakSet<AbortSignal>();
  return async (url, init = {}) => {
    if (init.body !== undefined && init.body !== null && typeof init.body !== 'string') return fetch(url, init);
    const target = new URL(url);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    const signal = init.signal ?? undefined;
    // The SDK passes one signal for every request of a session: each request in flight adds a
    // listener (removed when it completes), so 32 concurrent calls are no leak.
    if (signal !== undefined && !seen.has(signal)) {
      setMaxListeners(0, signal);
      seen.add(signal);
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await (dispatcher ?? getGlobalDispatcher()).request({ origin: target.origin, path: target.pathname + target.search, method: (init.method ?? 'GET') as Dispatcher.HttpMethod, headers, body: init.body ?? null, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason;
      throw new TypeError('fetch failed', { cause: err });
    }
    const out = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) for (const one of Array.isArray(value) ? value : [value]) out.append(name, one);
    }
    const options = { status: res.statusCode, headers: out };
    if (NULL_BODY_STATUSES.has(res.statusCode)) {
      res.body.resume();
      return new Response(null, options);
    }
    if (/^text\/event-stream/i.test(out.get('content-type') ?? '')) return new Response(Readable.toWeb(answerStream(res.body, init.body, signal)) as WebReadableStream as ReadableStream, options);
    return new Response(await res.body.arrayBuffer(), options);
  };
}

/**
 * The event stream of one POST's answer, as the SDK reads it. When the stream breaks (the
 * upstream cut the connection after the head) and the gateway did not abort it, it ends with
 * `brokenAnswerEvent` for the request the POST carried: the SDK fails that request at once as a
 * broken answer, instead of leaving it to its timeout. A GET stream, or a POST that carried no
 * request, breaks as it did.
 */
function answerStream(body: Readable, sent: unknown, signal: AbortSignal | undefined): Readable {
  if (typeof sent !== 'string') return body;
  const out = new PassThrough();
  body.on('error', (err) => {
    const id = signal?.aborted === true ? undefined : requestIdOf(sent);
    if (id === undefined) out.destroy(err);
    else out.end(brokenAnswerEvent(id, failureOf(err)));
  });
  // The SDK cancelled its reader (the session closed): let the connection go.
  out.on('close', () => body.destroy());
  body.pipe(out);
  return out;
}

/** The id of the JSON-RPC request in a POST body, if it carried one. */
function requestIdOf(body: string): string | number | undefined {
  try {
    const message = JSON.parse(body) as { id?: unknown; method?: unknown } | null;
    const id = message?.id;
    return typeof message?.method === 'string' && (typeof id === 'string' || typeof id === 'number') ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The environment of a stdio upstream's process: the configured `env`, plus `PATH` (from
 * `path`, else the SDK's default which reads the gateway's own PATH), and nothing else of the
 * gateway's environment. The SDK merges a default set of the parent's variables (HOME, USER,
 * SHELL, ...) into every child's environment; each of those is set to `undefined` here, which
 * Node's spawn leaves out, so a secret in the gateway's environment never reaches the child
 * unless the config passes it on purpose.
 *
 * This does NOT sandbox the child (same user, same filesystem as the gateway), nor check what
 * the configured `env` holds: a secret put there on purpose is the upstream's to keep.
 */
export function childEnvironment(configured: Readonly<Record<string, string>>, path?: string): Record<string, string> {
  const env: Record<string, string | undefined> = {};
  for (const name of DEFAULT_INHERITED_ENV_VARS) if (name !== 'PATH') env[name] = undefined;
  if (path !== undefined) env.PATH = path;
  Object.assign(env, configured);
  return env as Record<string, string>;
}

/** What {@link createUpstreamTransport} needs besides the upstream's config. */
export interface UpstreamTransportOptions {
  readonly logger?: Logger;
  /** Fetch for HTTP upstreams (default: the global fetch). */
  readonly fetch?: FetchLike;
  /** `PATH` for stdio children (default: the SDK's, i.e. the gateway's own PATH). */
  readonly childPath?: string;
}

/** Longest stderr line of a stdio upstream that is logged, characters. */
const MAX_STDERR_LINE = 500;

/**
 * A new, unstarted SDK transport for `cfg`. HTTP: the Streamable HTTP client transport with the
 * upstream's configured `headers` (the gateway's own credential) on every request, and
 * {@link withCallHeaders} support. stdio: the SDK's stdio transport, started without a shell,
 * with {@link childEnvironment}; its stderr is logged at `info`, line by line, truncated.
 *
 * This does NOT add any identity: the caller signs an assertion per call. It does NOT send the
 * user's token: none reaches this layer.
 */
export function createUpstreamTransport(cfg: UpstreamConfig, opts: UpstreamTransportOptions = {}): Transport {
  if (cfg.transport === 'stdio') {
    const transport = new StdioClientTransport({
      command: cfg.command ?? '',
      args: [...cfg.args],
      env: childEnvironment(cfg.env, opts.childPath),
      stderr: 'pipe',
    });
    let partial = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = (lines.pop() ?? '').slice(-MAX_STDERR_LINE);
      for (const line of lines) if (line.trim() !== '') opts.logger?.info({ upstream: cfg.id, stderr: line.slice(0, MAX_STDERR_LINE) }, 'stdio upstream wrote to stderr');
    });
    return transport;
  }
  return new StreamableHTTPClientTransport(new URL(cfg.url ?? ''), {
    requestInit: { headers: { ...cfg.headers } },
    fetch: perCallFetch(opts.fetch ?? defaultFetch),
    // The standalone GET stream only carries notifications (list_changed); a lost one is
    // re-opened twice, then a failed call reconnects the whole session.
    reconnectionOptions: { initialReconnectionDelay: 500, maxReconnectionDelay: 5_000, reconnectionDelayGrowFactor: 2, maxRetries: 2 },
  });
}
