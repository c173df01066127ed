/** A raw POST or GET to the MCP endpoint whose SSE events can be awaited one by one, for the wire details of relayed requests. */
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';

export interface EventStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The next JSON-RPC message of the stream; rejects after `ms` (default 3 000) or when the stream ended first. */
  next(ms?: number): Promise<Record<string, unknown>>;
  /** Resolves when the response ended. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Sends `body` (or nothing, for a GET) and resolves at the response head. */
export function openEventStream(baseUrl: string, method: 'POST' | 'GET', headers: OutgoingHttpHeaders, body?: unknown): Promise<EventStream> {
  const url = new URL(baseUrl);
  const json = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path: '/mcp', headers: { ...headers, ...(json === undefined ? {} : { 'content-length': Buffer.byteLength(json) }) }, agent: false },
      (res) => {
        const queue: Record<string, unknown>[] = [];
        const waiters: ((m: Record<string, unknown> | undefined) => void)[] = [];
        let buffer = '';
        let done = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
            if (data === '') continue;
            const message = JSON.parse(data) as Record<string, unknown>;
            const waiter = waiters.shift();
            if (waiter !== undefined) waiter(message);
            else queue.push(message);
          }
        });
        const ended = new Promise<void>((r) =>
          res.on('close', () => {
            done = true;
            for (const w of waiters.splice(0)) w(undefined);
            r();
          }),
        );
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          ended,
          next(ms = 3_000) {
            const queued = queue.shift();
            if (queued !== undefined) return Promise.resolve(queued);
            if (done) return Promise.reject(new Error('the stream ended'));
            return new Promise((res2, rej) => {
              const timer = setTimeout(() => rej(new Error(`no event within ${ms} ms`)), ms);
              waiters.push((m) => {
                clearTimeout(timer);
                if (m === undefined) rej(new Error('the stream ended'));
                else res2(m);
              });
            });
          },
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
    if (json !== undefined) req.write(json);
    req.end();
  });
}
