// A trivial upstream: answers every request with a small JSON body. Prints its port on stdout.
import { createServer } from 'node:http';

const body = Buffer.from(JSON.stringify({ reviews: [{ employee: 'bob', rating: 'meets', summary: 'Solid delivery.' }] }));
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
