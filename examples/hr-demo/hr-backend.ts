/**
 * The demo's HR backend: performance reviews. It is what a company backend looks like once behalf
 * is in front of it: it trusts only behalf's signed assertion (verified with `behalf/backend`)
 * and filters by the verified user, never by a header the caller could set.
 *
 * For the "before" half of the demo it also accepts the shared API key that LLM integrations use
 * today (`legacyApiKey`): with it, the backend cannot tell who is asking and returns everything,
 * unless the integration names the user in `X-User-Id`, which it believes as naive backends do
 * (anyone holding the key can name anyone).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createVerifier, type VerifiedCaller } from 'behalf/backend';

export interface Review {
  id: number;
  employee: string;
  author: string;
  period: string;
  rating: 'exceeds' | 'meets' | 'below';
  summary: string;
}

/** The HR system's own view of who manages whom (it is the system of record for it). */
const MANAGER: Record<string, string | undefined> = { alice: undefined, bob: 'alice', carol: 'alice', mallory: undefined };

function seedReviews(): Review[] {
  return [
    { id: 1, employee: 'alice', author: 'vp-eng', period: '2026-H1', rating: 'exceeds', summary: 'Grew the Platform team and shipped the gateway.' },
    { id: 2, employee: 'bob', author: 'alice', period: '2026-H1', rating: 'meets', summary: 'Solid delivery on the billing migration.' },
    { id: 3, employee: 'carol', author: 'alice', period: '2026-H1', rating: 'exceeds', summary: 'Cut on-call pages by half.' },
    { id: 4, employee: 'mallory', author: 'cfo', period: '2026-H1', rating: 'meets', summary: 'Closed Q2 books on time.' },
  ];
}

export interface HrBackendOptions {
  /** behalf's public URL: the assertion issuer, and where its JWKS is served. */
  gatewayUrl: string;
  /** This backend's audience in behalf's config (`routes[].audience`). */
  audience: string;
  /** The shared key of the "before" world; omit to accept only behalf's assertion. */
  legacyApiKey?: string;
  host?: string;
  port?: number;
}

export interface HrBackend {
  url: string;
  /** What the last verified request was on behalf of: the demo shows it ignores spoofed headers. */
  lastCaller(): VerifiedCaller | undefined;
  close(): Promise<void>;
}

export async function startHrBackend(opts: HrBackendOptions): Promise<HrBackend> {
  const reviews = seedReviews();
  const verifier = createVerifier({ issuer: opts.gatewayUrl, audience: opts.audience });
  let last: VerifiedCaller | undefined;

  const visibleTo = (user: string) => (r: Review) => r.employee === user || MANAGER[r.employee] === user;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readAll(req);
    const url = new URL(req.url ?? '/', 'http://hr.internal');
    const match = /^\/v1\/reviews(?:\/([a-z0-9-]+))?$/.exec(url.pathname);
    if (match === null) return send(res, 404, { error: 'not found' });
    const employee = match[1];

    if (opts.legacyApiKey !== undefined && req.headers.authorization === `Bearer ${opts.legacyApiKey}`) {
      // The shared-key world: the key says nothing about who is asking. Without `X-User-Id`
      // everything comes back; with it, the backend takes the header's word for the user.
      if (req.method !== 'GET') return send(res, 403, { error: 'read-only key' });
      const claimed = req.headers['x-user-id'];
      const seen = typeof claimed === 'string' && claimed !== '' ? reviews.filter(visibleTo(claimed)) : reviews;
      const answer = employee === undefined ? seen : seen.filter((r) => r.employee === employee);
      return send(res, 200, typeof claimed === 'string' && claimed !== '' ? { caller: claimed, reviews: answer } : { reviews: answer });
    }

    let caller: VerifiedCaller;
    try {
      caller = await verifier.verify({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, body);
    } catch (err) {
      return send(res, 401, { error: (err as { code?: string }).code ?? 'unauthorized' });
    }
    last = caller;

    if (req.method === 'GET') {
      const mine = reviews.filter(visibleTo(caller.user));
      return send(res, 200, { caller: caller.user, reviews: employee === undefined ? mine : mine.filter((r) => r.employee === employee) });
    }
    if (req.method === 'POST' && employee !== undefined) {
      // Defence in depth: the backend enforces its own rule too, on the verified user.
      if (MANAGER[employee] !== caller.user) return send(res, 403, { error: 'only the manager may add a review' });
      let input: { period?: unknown; rating?: unknown; summary?: unknown };
      try {
        input = JSON.parse(body.toString('utf8')) as typeof input;
      } catch {
        return send(res, 400, { error: 'invalid JSON' });
      }
      if (typeof input.summary !== 'string' || !['exceeds', 'meets', 'below'].includes(String(input.rating))) {
        return send(res, 400, { error: 'summary and rating (exceeds|meets|below) are required' });
      }
      const review: Review = {
        id: reviews.length + 1,
        employee,
        author: caller.user,
        period: typeof input.period === 'string' ? input.period : '2026-H2',
        rating: input.rating as Review['rating'],
        summary: input.summary.slice(0, 500),
      };
      reviews.push(review);
      return send(res, 201, { review });
    }
    return send(res, 405, { error: 'method not allowed' });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: 'internal error' }));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('HR backend has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    lastCaller: () => last,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
  });
}
