import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { DirectoryEntry, Identity } from '../../src/authenticate/identity.js';
import type { RouteConfig } from '../../src/config/schema.js';
import { bodyDigest } from '../../src/lib/digest.js';
import { compileOutgoingHeaders } from '../../src/forward/identity/outgoing-headers.js';
import { createForwarder, type ForwardInput, type ForwardResult } from '../../src/forward/proxy.js';
import { createAssertionSigner, routeAudience } from '../../src/forward/identity/signed-assertion.js';
import type { SigningKeys } from '../../src/forward/identity/signing-keys.js';
import { joinUpstreamPath } from '../../src/forward/upstream-path.js';

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 0 ? undefined : Buffer.concat(chunks)));
  });
}

/**
 * The forward stage wired the way the pipeline wires it, for tests: the caller is always
 * `identity` (authentication is another stage), the route always matches.
 */
export function miniGateway(opts: { route: RouteConfig; keys: SigningKeys; publicUrl: string; identity: Identity; directory?: DirectoryEntry; serverStripHeaders?: string[]; beforeEnd?: ForwardInput['beforeEnd'] }) {
  const { route, keys } = opts;
  const forwarder = createForwarder();
  const signer = createAssertionSigner(keys, { issuer: opts.publicUrl });
  const builder = compileOutgoingHeaders(route, { publicUrl: opts.publicUrl, serverStripHeaders: opts.serverStripHeaders ?? [] });
  const results: ForwardResult[] = [];
  let n = 0;
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    const upstreamPath = joinUpstreamPath(route, url.pathname, url.search);
    if (upstreamPath === undefined) return void res.writeHead(400).end('bad path');
    const requestId = `req-${++n}`;
    const digest = bodyDigest(body);
    const assertion = route.assertion.enabled
      ? await signer.sign({ identity: opts.identity, audience: routeAudience(route), method: req.method ?? 'GET', path: upstreamPath, bodyDigest: digest, ttlSeconds: route.assertion.ttlSeconds })
      : undefined;
    const { headers } = builder.build({
      incoming: req.headers,
      identity: opts.identity,
      requestId,
      ...(opts.directory === undefined ? {} : { directory: opts.directory }),
      ...(assertion === undefined ? {} : { assertion }),
      ...(body === undefined ? {} : { bodyLength: body.length }),
      ...(req.socket.remoteAddress === undefined ? {} : { clientAddress: req.socket.remoteAddress }),
    });
    res.setHeader('x-request-id', requestId);
    const result = await forwarder.forward({ req, res, route, upstreamPath, headers, body, ...(opts.beforeEnd === undefined ? {} : { beforeEnd: opts.beforeEnd }) });
    results.push(result);
    if (result.decision !== undefined) res.writeHead(result.decision.status, { 'content-type': 'text/plain' }).end(result.decision.message);
  });
  return { server, forwarder, results };
}
