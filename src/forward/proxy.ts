import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import type { RouteConfig } from '../config/schema.js';
import type { Deny } from '../pipeline/decision.js';
import { Exchange } from './proxy-exchange.js';
import type { UpstreamHeaders } from './identity/outgoing-headers.js';
import { DEFAULTS } from '../config/defaults.js';

/** One request to forward. */
export interface ForwardInput {
  /** The client request (its method is used; its body was already read by the caller). */
  readonly req: IncomingMessage;
  /** Where the upstream response goes, streamed. Headers set on it before are kept unless the upstream sends the same name. */
  readonly res: ServerResponse;
  readonly route: Pick<RouteConfig, 'upstream' | 'timeoutMs' | 'connectTimeoutMs'>;
  /** Upstream request target, path plus query: from `joinUpstreamPath`, the same string the assertion binds. */
  readonly upstreamPath: string;
  /** Upstream request headers, from `compileOutgoingHeaders(...).build(...)`. */
  readonly headers: UpstreamHeaders;
  /** The bounded request body, exactly the bytes the assertion digest covers; `undefined` for none. */
  readonly body: Buffer | undefined;
  /** Aborting it gives up on the request as a client disconnect would. */
  readonly signal?: AbortSignal;
  /**
   * Called once the whole upstream response has been received and written, just before the
   * client response is ended (the audit record goes here, so it is durable before the client
   * sees a complete response). Resolve `false` (or throw) to cut the response short instead: the
   * client connection is destroyed, so the client can tell the response is incomplete. Time spent
   * here does not count against `route.timeoutMs`.
   */
  readonly beforeEnd?: (done: { upstreamStatus: number; bytesOut: number }) => boolean | Promise<boolean>;
}

/** How forwarding ended. Never a thrown error: every network fault is described here. */
export interface ForwardResult {
  /** The whole upstream response reached the client. */
  readonly ok: boolean;
  readonly upstreamStatus?: number;
  /** Response body bytes written to the client. */
  readonly bytesOut: number;
  /** Set when nothing was sent to the client yet: the caller answers with it (502 or 504). */
  readonly decision?: Deny;
  /**
   * Who cut a started exchange short: the client (it went away), the upstream (fault or timeout)
   * or the gateway (`beforeEnd` refused to finish the response).
   */
  readonly aborted?: 'client' | 'upstream' | 'gateway';
  /** With `aborted: 'upstream'` after the response started: timeout or connection fault. */
  readonly reason?: 'upstream-timeout' | 'upstream-error';
  /** Short non-secret detail for the audit record (an error code). */
  readonly detail?: string;
}

/** Forwards requests over pooled keep-alive connections. */
export interface Forwarder {
  forward(input: ForwardInput): Promise<ForwardResult>;
  /** Closes every upstream connection once in-flight requests end. */
  close(): Promise<void>;
}

const origins = new Map<string, string>();

function originOf(upstream: string): string {
  let o = origins.get(upstream);
  if (o === undefined) origins.set(upstream, (o = new URL(upstream).origin));
  return o;
}

/**
 * Creates the forwarder: one undici `Agent` (keep-alive pools per upstream origin) per distinct
 * `connectTimeoutMs`, since undici sets the connect timeout per agent. `connections` bounds
 * sockets per origin (default unbounded); `keepAliveTimeoutMs` is how long an idle upstream
 * socket is kept (default 4 000 ms, below node's 5 s server default so the upstream does not
 * close it first).
 *
 * `forward` sends the request and streams the response to `res` as it arrives, pausing the
 * upstream when the client reads slowly. Status, headers (several Set-Cookie included) and
 * bytes are passed as they are: no decompression, no redirect following; hop-by-hop response
 * headers are removed and `X-Request-Id` is the gateway's. `route.timeoutMs` bounds the WHOLE
 * exchange, headers and body: past it, before headers the result carries a 504 `upstream-timeout`
 * decision; after, the client connection is destroyed (the client sees a truncated response, never
 * a complete-looking one) and the result says `upstream-timeout`. `route.connectTimeoutMs` bounds
 * the connection (504 too). A refused, reset or unparseable upstream before headers gives a 502
 * `upstream-unavailable` decision; after headers, the client connection is destroyed. When the
 * client goes away (or `signal` aborts), the upstream request is aborted, also while it is
 * still waiting for a connection, so a request given up on is never sent later. With
 * `beforeEnd`, the client cannot see a complete response before `beforeEnd` agreed: a bodiless
 * response's head and a fixed-length body's last byte are held back until then.
 *
 * This does NOT read, bound or decode the request body (the caller does, before signing), retry
 * anything, check what the upstream returns (screening is another stage), or handle upgrades
 * (WebSocket): `Upgrade` is stripped from requests.
 */
export function createForwarder(opts: { connections?: number; keepAliveTimeoutMs?: number } = {}): Forwarder {
  const agents = new Map<number, Agent>();
  const agentFor = (connectTimeoutMs: number): Agent => {
    let agent = agents.get(connectTimeoutMs);
    if (agent === undefined) {
      agent = new Agent({
        keepAliveTimeout: opts.keepAliveTimeoutMs ?? DEFAULTS.upstreamKeepAliveMs,
        connect: { timeout: connectTimeoutMs },
        ...(opts.connections === undefined ? {} : { connections: opts.connections }),
      });
      agents.set(connectTimeoutMs, agent);
    }
    return agent;
  };

  const forward = (input: ForwardInput): Promise<ForwardResult> => {
    const exchange = new Exchange(input);
    if (exchange.finished) return exchange.done;
    try {
      agentFor(input.route.connectTimeoutMs).dispatch(
        {
          origin: originOf(input.route.upstream),
          path: input.upstreamPath,
          method: (input.req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: input.headers,
          body: input.body ?? null,
          // Backstops only: the exchange's own timer bounds headers and body together.
          headersTimeout: input.route.timeoutMs,
          bodyTimeout: input.route.timeoutMs,
        },
        exchange,
      );
    } catch (err) {
      // undici refused the request itself (an invalid header or path): a gateway bug, not the upstream's fault.
      exchange.refused(err);
    }
    return exchange.done;
  };

  return {
    forward,
    async close() {
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}
