import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Identity } from '../../src/authenticate/identity.js';

/** Alice, a manager in the Platform department, signed in through ChatGPT. */
export const alice: Identity = Object.freeze({
  id: 'alice',
  issuer: 'https://idp.example.test',
  issuerId: 'demo-idp',
  tenant: 'acme',
  email: 'alice@acme.test',
  name: 'Alice Example',
  roles: ['manager', 'employee'],
  groups: ['platform'],
  scopes: ['hr.read', 'hr.write'],
  client: 'chatgpt-connector',
  expiresAt: 4_102_444_800,
});

/** Starts `server` on 127.0.0.1 with a free port; resolves its base URL. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes `server`, dropping idle keep-alive connections so the test does not wait for them. */
export async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** One HTTP exchange, fully read. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/** Sends one request with exact method, path and headers (no fetch normalisation). */
export function send(base: string, opts: { method?: string; path: string; headers?: OutgoingHttpHeaders; body?: string | Buffer }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = request({ host: u.hostname, port: u.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
