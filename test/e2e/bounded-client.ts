/**
 * Test clients whose every wait is bounded: an HTTP client that reports a response cut short
 * (instead of hanging or throwing), and a raw TCP client for bytes no HTTP library would send.
 */
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

/** What the client saw. `complete` is false when the connection was cut before the end of the body. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  complete: boolean;
}

export interface SendOptions {
  method?: string;
  /** Path and query, sent byte for byte (node:http does not normalise `..` or `%2e`). */
  path: string;
  headers?: OutgoingHttpHeaders;
  /** Sent in one write with a Content-Length, unless `chunks` is given. */
  body?: string | Buffer;
  /** Sent as chunked transfer encoding, no Content-Length. */
  chunks?: Buffer[];
  /** Give up (and reject) after this long, ms. Default 3 000. */
  timeoutMs?: number;
}

/**
 * One request on a fresh connection. Resolves once the response ends or is cut (`complete`
 * false); rejects when no response head arrives (refused, reset before the head) or on timeout.
 */
export function send(baseUrl: string, opts: SendOptions): Promise<Reply> {
  const timeoutMs = opts.timeoutMs ?? 3_000;
  return new Promise((resolve, reject) => {
    const url = new URL(baseUrl);
    const headers: OutgoingHttpHeaders = { ...opts.headers };
    if (opts.body !== undefined && opts.chunks === undefined) headers['content-length'] = Buffer.byteLength(opts.body);
    const req = request(
      { host: url.hostname, port: url.port, method: opts.method ?? 'GET', path: opts.path, headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        // A cut response emits 'error' ("aborted") and then 'close'; 'close' decides.
        res.on('error', () => undefined);
        res.on('close', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: res.complete });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (opts.chunks !== undefined) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

/** What a raw TCP exchange produced. */
export interface RawReply {
  /** Everything the server sent, latin1. */
  text: string;
  /** The status of the first response line, or 0 when none came. */
  status: number;
  /** The server closed (or reset) the connection before the wait ended. */
  closed: boolean;
}

/**
 * Writes `data` on a new TCP connection (optionally half-closing it), then collects what comes
 * back until the server closes the connection or `waitMs` passes (then the socket is destroyed).
 */
export function rawExchange(baseUrl: string, data: string | Buffer, opts: { end?: boolean; waitMs?: number } = {}): Promise<RawReply> {
  const url = new URL(baseUrl);
  const waitMs = opts.waitMs ?? 2_000;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = false;
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ text, status, closed });
    };
    const timer = setTimeout(() => {
      socket.removeAllListeners('close');
      socket.destroy();
      done();
    }, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      done();
    });
    socket.write(data);
    if (opts.end === true) socket.end();
  });
}

/** Opens a TCP connection and resolves once it is connected; the caller owns the socket. */
export function openSocket(baseUrl: string): Promise<Socket> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
