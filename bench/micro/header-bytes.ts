// How many header bytes a proxied GET costs on each leg, behalf against the bare proxy: the
// request the upstream receives and the response the client receives, byte for byte (issue 13
// §2, item 6). The upstream is a raw TCP server that records what it is sent and answers like
// bench/upstream.ts; the client request is the one of the benchmark's target (c).
//   node --import tsx bench/micro/header-bytes.ts [--show]
// BEHALF_BENCH_CLI=<path to main.js>: measure another build of behalf.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevIdp } from '../../src/dev-idp/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CLI = process.env['BEHALF_BENCH_CLI'] ?? join(root, 'dist', 'cli', 'main.js');
const SHOW = process.argv.includes('--show');
const BODY = JSON.stringify({ reviews: [{ employee: 'bob', rating: 'meets', summary: 'Solid delivery.' }] });
const children: ChildProcess[] = [];

/** The upstream: records each request head, answers what bench/upstream.ts answers (node's own head, same bytes). */
const seen: string[] = [];
const upstream = createServer((socket) => {
  let buf = '';
  socket.on('data', (d) => {
    buf += d.toString('latin1');
    let end: number;
    while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
      seen.push(buf.slice(0, end + 4));
      buf = buf.slice(end + 4);
      const date = new Date().toUTCString();
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${BODY.length}\r\nDate: ${date}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\n${BODY}`);
    }
  });
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

/** One raw request on a fresh connection; resolves with the response head. */
function ask(port: number, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end !== -1 && got.length >= end + 4 + BODY.length) {
        s.destroy();
        resolve(got.slice(0, end + 4));
      }
    });
    s.on('error', reject);
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    s.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${lines}\r\n`);
  });
}

function start(args: string[], cwd: string): ChildProcess {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

async function portOf(child: ChildProcess): Promise<number> {
  for await (const chunk of child.stdout!) {
    const m = /"port":(\d+)/.exec(String(chunk));
    if (m) return Number(m[1]);
  }
  throw new Error('no port');
}

const work = await mkdtemp(join(tmpdir(), 'behalf-header-bytes-'));
try {
  const bare = start(['--import', 'tsx', join(root, 'bench', 'bare-proxy.ts'), upstreamUrl], root);
  const barePort = await portOf(bare);
  const port = await new Promise<number>((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const free = (s.address() as AddressInfo).port;
      s.close(() => r(free));
    });
  });
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@example.test' }], audience: publicUrl, defaultScopes: ['reviews:read'], log: () => {} });
  await writeFile(join(work, 'directory.yaml'), 'users:\n  - { id: alice }\n  - { id: bob, manager: alice }\n');
  await writeFile(
    join(work, 'behalf.yaml'),
    `server: { port: ${port}, publicUrl: "${publicUrl}" }
issuers: [{ id: idp, issuer: "${idp.issuer}", audience: "${publicUrl}", requireType: at+jwt }]
directory: { file: directory.yaml }
signing: { keyFile: keys.json }
routes: [{ id: hr, path: /api/hr, upstream: "${upstreamUrl}/v1", audience: hr-backend, identityHeaders: { X-User-Id: "{user.id}" } }]
policies:
  - { id: reads, effect: allow, match: { routes: [hr], methods: [GET], paths: ["/api/hr/reviews/:employee"] }, when: request.params.employee in user.reports }
audit: { store: audit }
log: { level: warn }
`,
  );
  const behalf = spawn(process.execPath, [CLI, 'serve', '--config', join(work, 'behalf.yaml')], { cwd: work, stdio: 'inherit' });
  children.push(behalf);
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${publicUrl}/healthz`)).ok) break;
    } catch {
      if (i > 100) throw new Error('behalf never became healthy');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const token = await idp.mint('alice', { audience: publicUrl });

  const rows: [string, string, string][] = [];
  seen.length = 0;
  const bareOut = await ask(barePort, '/v1/reviews/bob', {});
  rows.push(['bare proxy', seen[0]!, bareOut]);
  // Twice: the first request fills the token cache; the second is the steady state the benchmark measures.
  await ask(port, '/api/hr/reviews/bob', { authorization: `Bearer ${token}` });
  seen.length = 0;
  const behalfOut = await ask(port, '/api/hr/reviews/bob', { authorization: `Bearer ${token}` });
  rows.push(['behalf', seen[0]!, behalfOut]);
  for (const [name, up, down] of rows) {
    console.log(`${name.padEnd(11)} to upstream ${String(up.length).padStart(5)} B head   to client ${String(down.length).padStart(4)} B head`);
    if (SHOW) console.log(`--- to upstream\n${up}--- to client\n${down}`);
  }
  const [, up, down] = rows[1]!;
  const sizes = (head: string) =>
    head
      .split('\r\n')
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => `${l.slice(0, l.indexOf(':'))} ${l.length + 2}`)
      .join(', ');
  console.log(`behalf to upstream, per header (bytes with CRLF): ${sizes(up)}`);
  console.log(`behalf to client, per header (bytes with CRLF): ${sizes(down)}`);
  await idp.close();
} finally {
  for (const c of children) c.kill('SIGTERM');
  upstream.close();
  await rm(work, { recursive: true, force: true });
}
