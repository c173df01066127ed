import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import { deferContinue } from '../../lib/expect-continue.js';
import { errorSummary } from '../../lib/error-summary.js';
import { newRequestId } from '../../lib/request-id.js';
import { markCutShort, type CutShort } from '../../lib/request-cut-short.js';
import { guardConnections, type ConnectionRefusedHook } from './connection-limits.js';
import { answerRefusal, refusalOf, type ParserRefusal } from './parser-refusals.js';

/** A request handler that owns the response; the server only guards against its faults. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface ServerLimits {
  /** Time to receive the headers, ms (slow-header guard; also closes a connection that sends nothing). */
  headersTimeoutMs: number;
  /** Time to receive the whole request, ms (slow-body guard). */
  requestTimeoutMs: number;
  /** Idle keep-alive, ms. */
  keepAliveTimeoutMs: number;
  /** Bound on a request's headers in all, bytes (`server.maxHeaderBytes`; Node's default 16 KiB when absent). */
  maxHeaderBytes?: number;
  /** Connections held at once (`server.maxConnections`; no bound when absent). */
  maxConnections?: number;
  /** Connections from one client address at once (`server.maxConnectionsPerAddress`; 0 or absent: no bound). */
  maxConnectionsPerAddress?: number;
}

/** Told of every request refused before the handler (by the parser, or CONNECT): it audits and counts it. */
export type RefusalHook = (refusal: ParserRefusal, peer: string | undefined, requestId: string, bytesOut: number) => void;

/** Who hears of what the server refuses before the handler. */
export interface ServerHooks {
  /** A request refused on the raw socket (parser-refusals.ts). */
  readonly onRefused?: RefusalHook;
  /** A connection closed on accept (connection-limits.ts). */
  readonly onConnectionRefused?: ConnectionRefusedHook;
}

/** The server's own record of the response in progress on a connection (for a request timeout). */
const CURRENT = Symbol('behalf.currentResponse');
type Tracked = Socket & { [CURRENT]?: ServerResponse };

/**
 * The node:http server for every door. No framework on the hot path.
 *
 * - Timeouts: Node checks `headersTimeoutMs` and `requestTimeoutMs` only every
 *   `connectionsCheckingInterval` (30 s by default, so a 10 s timeout fired after 13-40 s); here
 *   every 250 ms (`DEFAULTS.timeoutCheckMs`), so a 408 comes within that of its setting. A
 *   connection that sends nothing at all is closed with a 408 after `headersTimeoutMs` too.
 * - A request Node's parser refuses (400 `malformed-request`, 408 `request-timeout` while the
 *   head is still arriving, 431 `headers-too-large`) and a CONNECT (405) are answered on the
 *   socket with a JSON denial and a request id, the socket is closed, and `onRefused` audits and
 *   counts it (parser-refusals.ts); a client that is already gone is just dropped.
 * - A request whose head arrived but whose body did not within `requestTimeoutMs` is the
 *   pipeline's to answer: it is marked (lib/request-cut-short.ts), its body reader stops, and the
 *   pipeline answers 408 `request-timeout` with the request's own id and writes its record. If no
 *   answer has begun `DEFAULTS.timedOutAnswerMs` later (the handler never reads the body), or a
 *   response was already under way, the connection is cut.
 * - `Expect: 100-continue`: the `100` is deferred until the body is read (lib/expect-continue.ts),
 *   so a body refused on its declared length gets 413 without ever being invited.
 * - Connections: at most `maxConnections`, and `maxConnectionsPerAddress` from one address
 *   (connection-limits.ts); one past either is closed on accept and told to `onConnectionRefused`.
 *
 * A fault in a handler answers 500 if it still can, and never brings the process down.
 */
export function createHttpServer(handler: Handler, limits: ServerLimits, logger: Logger, hooks: ServerHooks = {}): Server {
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    (req.socket as Tracked)[CURRENT] = res;
    handler(req, res).catch((err: unknown) => {
      logger.error({ err: errorSummary(err) }, 'request handler fault');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end('{"error":"internal-error","message":"internal error"}');
      } else {
        res.destroy();
      }
    });
  };
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: DEFAULTS.timeoutCheckMs,
      ...(limits.maxHeaderBytes === undefined ? {} : { maxHeaderSize: limits.maxHeaderBytes }),
      // Duplicate Authorization headers must stay visible (rawHeaders) so they can be refused.
      joinDuplicateHeaders: false,
    },
    serve,
  );
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    deferContinue(req, res);
    serve(req, res);
  });
  const refuse = (socket: Socket, refusal: ParserRefusal) => {
    const requestId = newRequestId();
    const bytes = answerRefusal(socket, refusal, requestId);
    hooks.onRefused?.(refusal, socket.remoteAddress, requestId, bytes);
  };
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const refusal = refusalOf(err);
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && leftToPipeline(socket as Tracked, { kind: 'timeout' })) return;
    // A body whose framing the parser refused (a bad chunk size, ...): answered as that request.
    if (refusal.status === 400 && leftToPipeline(socket as Tracked, { kind: 'malformed', code: refusal.code })) return;
    refuse(socket, refusal);
  });
  // The gateway is not a forward proxy; without this listener Node would drop the socket silently.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => refuse(socket, { status: 405, reason: 'method-not-supported', code: 'CONNECT' }));
  guardConnections(server, limits, hooks.onConnectionRefused);
  return server;
}

/**
 * A timeout or a framing error on a connection whose current request is still arriving: true
 * when that request is left to the pipeline to answer, or the connection was cut because its
 * answer had already begun (or ended). False when no request is in progress (the head of the
 * first, or of the next one, is still arriving): the caller answers on the raw socket.
 */
function leftToPipeline(socket: Tracked, why: CutShort): boolean {
  const res = socket[CURRENT];
  if (res === undefined) return false;
  if (res.writableEnded) {
    if (res.req.complete) return false;
    // Answered already (a 401, say) while its body still trickles in: a second answer would
    // be read as the answer to the next request. The request has its record.
    socket.destroy();
    return true;
  }
  if (res.headersSent) {
    socket.destroy();
    return true;
  }
  markCutShort(res.req, why);
  setTimeout(() => {
    if (!res.headersSent) socket.destroy();
  }, DEFAULTS.timedOutAnswerMs).unref();
  return true;
}

/** Starts listening; resolves with the bound address as a URL (port 0 picks a free port). */
export function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('no TCP address'));
      const h = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve(`http://${h}:${address.port}`);
    });
  });
}

/** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes what is left. */
export function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
