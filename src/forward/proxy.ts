import type { Dispatcher } from 'undici';
import { createAgentPool, DEFAULT_KEEP_ALIVE_TIMEOUT_MS } from './agents.js';
import { Exchange } from './proxy-exchange.js';
import type { ForwardInput, ForwardResult } from './proxy-types.js';

export type { ForwardInput, ForwardResult } from './proxy-types.js';

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
 * `connectTimeoutMs`, since undici sets the connect timeout per agent (see `createAgentPool`).
 * `connections` bounds sockets per origin (default unbounded); `keepAliveTimeoutMs` is how long
 * an idle upstream socket is kept (default {@link DEFAULT_KEEP_ALIVE_TIMEOUT_MS}, 4 000 ms, below
 * node's 5 s server default so the upstream does not close it first).
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
  const agents = createAgentPool({ connections: opts.connections });
  const keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS;

  const forward = (input: ForwardInput): Promise<ForwardResult> => {
    const exchange = new Exchange(input);
    if (exchange.finished) return exchange.done;
    try {
      agents.agentFor(input.route.connectTimeoutMs, keepAliveTimeoutMs).dispatch(
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
    close: () => agents.close(),
  };
}
