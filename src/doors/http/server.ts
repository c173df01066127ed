import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { errorSummary } from '../../lib/error-summary.js';
import { newRequestId } from '../../lib/request-id.js';
import { answerRefusal, refusalOf, type ParserRefusal } from './parser-refusals.js';

/** A request handler that owns the response; the server only guards against its faults. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface ServerLimits {
  /** Time to receive the headers, ms (slow-header guard). */
  headersTimeoutMs: number;
  /** Time to receive the whole request, ms (slow-body guard). */
  requestTimeoutMs: number;
  /** Idle keep-alive, ms. */
  keepAliveTimeoutMs: number;
  /** Bound on a request's headers in all, bytes (`server.maxHeaderBytes`; Node's default 16 KiB when absent). */
  maxHeaderBytes?: number;
}

/** Told of every request refused before the handler (by the parser, or CONNECT): it audits and counts it. */
export type RefusalHook = (refusal: ParserRefusal, peer: string | undefined, requestId: string, bytesOut: number) => void;

/**
 * The node:http server for every door. No framework on the hot path. A request Node's parser
 * refuses (400 `malformed-request`, 408 `request-timeout`, 431 `headers-too-large`) and a CONNECT
 * (405) are answered on the socket with a JSON denial and a request id, the socket is closed, and
 * `onRefused` audits and counts it (parser-refusals.ts); a client that is already gone is just
 * dropped. A fault in a handler answers 500 if it still can, and never brings the process down.
 */
export function createHttpServer(handler: Handler, limits: ServerLimits, logger: Logger, onRefused?: RefusalHook): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      ...(limits.maxHeaderBytes === undefined ? {} : { maxHeaderSize: limits.maxHeaderBytes }),
      // Duplicate Authorization headers must stay visible (rawHeaders) so they can be refused.
      joinDuplicateHeaders: false,
    },
    (req, res) => {
      handler(req, res).catch((err: unknown) => {
        logger.error({ err: errorSummary(err) }, 'request handler fault');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
          res.end('{"error":"internal-error","message":"internal error"}');
        } else {
          res.destroy();
        }
      });
    },
  );
  const refuse = (socket: Socket, refusal: ParserRefusal) => {
    const requestId = newRequestId();
    const bytes = answerRefusal(socket, refusal, requestId);
    onRefused?.(refusal, socket.remoteAddress, requestId, bytes);
  };
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    refuse(socket, refusalOf(err));
  });
  // The gateway is not a forward proxy; without this listener Node would drop the socket silently.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => refuse(socket, { status: 405, reason: 'method-not-supported', code: 'CONNECT' }));
  return server;
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
