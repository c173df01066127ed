// Two builds of behalf side by side, target (c) of bench/run.ts against each in short alternating
// slices: behalf's CPU per request for build A and build B. On a shared machine a slow drift in
// load hits both alike, so the paired difference is far steadier than two separate runs.
//   node --import tsx bench/micro/ab-cpu.ts --a <dir>/dist/cli/main.js --b <dir>/dist/cli/main.js
//     [--slices 8] [--seconds 3] [--connections 32]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevIdp } from '../../src/dev-idp/index.js';
import { runLoad } from '../load.js';
import { cpuMs } from '../proc-stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const flag = (name: string, fallback?: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i === -1 ? fallback : process.argv[i + 1];
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};
const CLI = { A: flag('a'), B: flag('b') };
const SLICES = Number(flag('slices', '8'));
const SECONDS = Number(flag('seconds', '3'));
const CONNECTIONS = Number(flag('connections', '32'));
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became healthy`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const work = await mkdtemp(join(tmpdir(), 'behalf-ab-'));
try {
  const upstream = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'upstream.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(upstream);
  const upstreamPort = await new Promise<number>((resolve) => upstream.stdout!.once('data', (d) => resolve((JSON.parse(String(d)) as { port: number }).port)));
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  // One IdP and one audience for both: the token names a public URL neither gateway listens on.
  const publicUrl = 'http://127.0.0.1:9';
  const idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@example.test' }], audience: publicUrl, defaultScopes: ['reviews:read'], log: () => {} });
  const token = await idp.mint('alice', { audience: publicUrl });
  const gateways: Record<'A' | 'B', { url: string; pid: number }> = {} as never;
  for (const side of ['A', 'B'] as const) {
    const dir = join(work, side);
    await mkdir(join(dir, 'audit'), { recursive: true });
    const port = await freePort();
    await writeFile(join(dir, 'directory.yaml'), 'users:\n  - { id: alice, department: Platform }\n  - { id: bob, manager: alice, department: Platform }\n');
    await writeFile(
      join(dir, 'behalf.yaml'),
      `server: { port: ${port}, publicUrl: "${publicUrl}" }
issuers: [{ id: idp, issuer: "${idp.issuer}", audience: "${publicUrl}", requireType: at+jwt }]
directory: { file: directory.yaml }
signing: { keyFile: keys.json }
routes: [{ id: hr, path: /api/hr, upstream: "${upstreamUrl}/v1", audience: hr-backend, identityHeaders: { X-User-Id: "{user.id}" } }]
policies:
  - id: manager-reads-reports
    effect: allow
    match: { routes: [hr], methods: [GET], paths: ["/api/hr/reviews/:employee"] }
    scopes: [reviews:read]
    when: request.params.employee in user.reports
audit: { store: audit }
log: { level: warn }
`,
    );
    const child = spawn(process.execPath, [CLI[side], 'serve', '--config', join(dir, 'behalf.yaml')], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(url);
    gateways[side] = { url, pid: child.pid! };
  }
  const slice = async (side: 'A' | 'B', seconds: number) => {
    const g = gateways[side];
    const cpu0 = await cpuMs(g.pid);
    const r = await runLoad({ url: g.url, path: '/api/hr/reviews/bob', headers: { authorization: `Bearer ${token}` }, connections: CONNECTIONS, seconds });
    const cpu = ((await cpuMs(g.pid)) - cpu0) * 1000 / r.requests;
    if (r.errors + r.non2xx > 0) throw new Error(`${side}: ${r.errors} errors, ${r.non2xx} non-2xx`);
    return { cpu, rps: r.rps };
  };
  await slice('A', 2);
  await slice('B', 2);
  const got: Record<'A' | 'B', number[]> = { A: [], B: [] };
  const diffs: number[] = [];
  console.log(`A ${CLI.A}\nB ${CLI.B}\n${SLICES} slice pairs of ${SECONDS} s, ${CONNECTIONS} connections, load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (let i = 0; i < SLICES; i++) {
    const order = i % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
    const pair: Partial<Record<'A' | 'B', { cpu: number; rps: number }>> = {};
    for (const side of order) pair[side] = await slice(side, SECONDS);
    got.A.push(pair.A!.cpu);
    got.B.push(pair.B!.cpu);
    diffs.push(pair.B!.cpu - pair.A!.cpu);
    console.log(`pair ${i + 1}: A ${pair.A!.cpu.toFixed(1)} us/req (${pair.A!.rps.toFixed(0)} req/s)  B ${pair.B!.cpu.toFixed(1)} us/req (${pair.B!.rps.toFixed(0)} req/s)  B-A ${(pair.B!.cpu - pair.A!.cpu).toFixed(1)}`);
  }
  console.log(
    `median A ${median(got.A).toFixed(1)}  B ${median(got.B).toFixed(1)} us/req; best A ${Math.min(...got.A).toFixed(1)}  B ${Math.min(...got.B).toFixed(1)}; ` +
      `median of B-A ${median(diffs).toFixed(1)} us/req; load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  await idp.close();
} finally {
  for (const c of children) c.kill('SIGTERM');
  await rm(work, { recursive: true, force: true });
}
