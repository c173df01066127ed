import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { errorSummary } from '../../lib/error-summary.js';

/** A request handler that owns the response; the server only guards against its faults. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface ServerLimits {
  /** Time to receive the headers, ms (slow-header guard). */
  headersTimeoutMs: number;
  /** Time to receive the whole request, ms (slow-body guard). */
  requestTimeoutMs: number;
  /** Idle keep-alive, ms. */
  keepAliveTimeoutMs: number;
}

/**
 * The node:http server for every door. No framework on the hot path. Malformed requests are
 * answered by Node's parser (400, 431 for oversized headers) and the socket is closed; a fault in
 * a handler answers 500 if it still can, and never brings the process down.
 */
export function createHttpServer(handler: Handler, limits: ServerLimits, logger: Logger): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
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
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({ error: 'bad-request', message: status === 431 ? 'request headers too large' : status === 408 ? 'request timeout' : 'malformed request' });
    socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
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
