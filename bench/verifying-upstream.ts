// An upstream that trusts only behalf: every request's assertion is verified with behalf/backend
// (either form, the gateway's JWKS fetched from it) before it answers with a small JSON body, or
// 401 with the reason code. Requests under /skip/ are answered the same without verification: the
// difference in CPU per request between the two is what verification costs a backend. Args: <gateway public URL> <audience>. Prints its port.
import { createServer } from 'node:http';
import { createVerifier, isBehalfError } from '../src/backend/index.js';

const [issuer, audience] = process.argv.slice(2) as [string, string];
const verifier = createVerifier({ issuer, audience });
const body = Buffer.from(JSON.stringify({ reviews: [{ employee: 'bob', rating: 'meets', summary: 'Solid delivery.' }] }));
let refused = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    // The control: the same process and response, no verification (what the rest costs).
    const verified = req.url?.startsWith('/skip/') === true ? Promise.resolve() : verifier.verify(req);
    verified.then(
      () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      },
      (err: unknown) => {
        if (refused++ < 3) process.stderr.write(`verifying upstream refused: ${isBehalfError(err) ? `${err.code}: ${err.message}` : String(err)}\n`);
        res.writeHead(401).end(isBehalfError(err) ? err.code : 'error');
      },
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
