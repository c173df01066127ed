/** Small real-HTTP helpers for the authenticate tests (127.0.0.1, port 0). */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Start a server on 127.0.0.1 with a random port; returns its base URL and a closer. */
export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A response, fully read. */
export interface HttpResult {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Send one request with node:http (array header values become several header lines). */
export function send(base: string, path: string, opts: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Parse the `error` parameter of a Bearer challenge (undefined when absent). */
export function challengeError(header: string | undefined): string | undefined {
  return header === undefined ? undefined : /\berror="([^"]*)"/.exec(header)?.[1];
}
