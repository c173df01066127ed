// `npm run bench`: the cost of behalf on loopback, measured against a bare proxy.
//   (a) direct to a trivial upstream, (b) a bare node:http + undici proxy, (c) behalf with
//   authentication (cached verified token), policy with a CEL condition, a signed ES256
//   assertion, and a durable audit record per request. (m) MCP `tools/call` of an upstream MCP
//   server's instant tool, straight to it and through behalf's MCP door (mcp-case.ts), for two
//   upstreams: the official SDK's server (SSE answers) and a minimal raw JSON-RPC server.
//   (l) the limit stage on the memory store and on Redis, and (i) two instances against one
//   (scale-cases.ts).
// req/s and p50/p99 at 1 and 32 connections, the ratios, and behalf's memory over a long run.
// Flags: --seconds N (per measurement, default 10), --memory-seconds N (default 60, 0 = skip),
//   --targets a,b,n,c,w,v,m,l,i and --connections 1,32 to run a subset (v: behalf in front of a
//   backend that verifies each assertion, batched and jwt; n: nginx as a plain proxy,
//   installed when missing; w: a POST through behalf, a
//   change: its intent record is written, and fsynced, before the backend is asked), --no-assertion (diagnosis: no signing),
//   --no-sync (diagnosis: no response waits for an fsync, `audit.syncBeforeResponse: none`),
//   --assertion-form jwt|batched (the form of (c)'s assertions), --batch-wait <us> (signing.batch.maxWaitMicroseconds),
//   --mcp-json (diagnosis: the SDK upstream answers calls as JSON; it leaks ~5 KB per call in that mode).
// BEHALF_BENCH_CLI=<path to main.js>: run another build of behalf (to measure a change to it).
import { spawn, type ChildProcess } from 'node:child_process';
import { ensureNginx, startNginx } from './nginx.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevIdp } from '../src/dev-idp/index.js';
import { runLoad, type LoadResult } from './load.js';
import { cpuMs, machineBusyMs, rssMb } from './proc-stats.js';
import { MCP_RAW_UPSTREAM_ID, MCP_TOOL, MCP_UPSTREAM_ID, mcpConfigYaml, runMcpLoad, waitForTool, type McpEndpoint } from './mcp-case.js';
import { upstreamMemory } from './upstream-memory.js';
import { BENCH_REDIS_URL, benchKeyPrefix, dropKeys, limitsYaml, measureUnreachableStore, printScaleComparisons, requireRedis, SCALE_TARGETS, type UnreachableStoreTimes } from './scale-cases.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 10);
const ONLY = (() => {
  const i = process.argv.indexOf('--targets');
  return i === -1 ? undefined : (process.argv[i + 1] ?? '').split(',');
})();
const CONNECTIONS = (() => {
  const i = process.argv.indexOf('--connections');
  return i === -1 ? [1, 32] : (process.argv[i + 1] ?? '').split(',').map(Number);
})();
const MEMORY_SECONDS = arg('memory-seconds', 60);
/** Whether the targets of letter `l` (a, b, c, m, l, i) run. */
const wanted = (l: string) => ONLY === undefined || ONLY.includes(l);
/** Diagnosis only: measure behalf without the signed assertion, to see what signing costs. */
const NO_ASSERTION = process.argv.includes('--no-assertion');
/** Diagnosis only: no response waits for its record's fsync (MCP tool calls otherwise all do). */
const NO_SYNC = process.argv.includes('--no-sync');
/** `--assertion-form jwt|batched`: the form of (c)'s assertions (default: the config default, batched). */
const ASSERTION_FORM = (() => {
  const i = process.argv.indexOf('--assertion-form');
  return i === -1 ? undefined : process.argv[i + 1];
})();
/** `--batch-wait <µs>`: `signing.batch.maxWaitMicroseconds` (default: the config default). */
const BATCH_WAIT = (() => {
  const i = process.argv.indexOf('--batch-wait');
  return i === -1 ? undefined : Number(process.argv[i + 1]);
})();
/** Diagnosis only: the SDK upstream answers calls as JSON instead of SSE (its default); it leaks in that mode (mcp-upstream.ts). */
const MCP_JSON = process.argv.includes('--mcp-json');
/** The behalf CLI to run: this tree's build unless BEHALF_BENCH_CLI names another. */
const CLI = process.env['BEHALF_BENCH_CLI'] ?? join(root, 'dist', 'cli', 'main.js');
const children: ChildProcess[] = [];
/** Processes the benchmark uses that it did not start (a local redis-server): their CPU is not "other processes". */
const benchPids: number[] = [];
/** BEHALF_BENCH_PROFILE=<dir>: write CPU profiles of the proxies there (<dir>/bare, <dir>/behalf, <dir>/mcp-upstream, <dir>/mcp-raw-upstream). */
const profileArgs = (name: string): string[] => {
  const dir = process.env['BEHALF_BENCH_PROFILE'];
  return dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(dir, name)}`];
};

/** behalf's CPU per request at 32 connections as a multiple of the bare node proxy's and of nginx's. */
function printFloorRatios(results: Record<string, Record<number, LoadResult>>): void {
  const cpu = (name: string) => results[name]?.[32]?.cpuUsPerRequest;
  const behalf = cpu('(c) behalf');
  if (behalf === undefined) return;
  const bare = cpu('(b) bare proxy');
  const nginx = cpu('(n) nginx proxy');
  const parts = [bare === undefined ? undefined : `${(behalf / bare).toFixed(1)}x the bare node proxy's (${bare.toFixed(0)} us)`, nginx === undefined ? undefined : `${(behalf / nginx).toFixed(1)}x nginx's (${nginx.toFixed(0)} us)`].filter((p) => p !== undefined);
  if (parts.length > 0) console.log(`(c) CPU per request at 32 connections: ${behalf.toFixed(0)} us, ${parts.join(', ')}`);
}

function startChild(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) {
        try {
          resolve({ child, port: (JSON.parse(line) as { port: number }).port });
        } catch {
          /* not the port line */
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

/** SIGTERM, and the exit (SIGKILL after 10 s). */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became healthy`);
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** CPU this process, every child and `benchPids` have used so far, ms: what the benchmark itself costs. */
async function ownMs(): Promise<number> {
  const { user, system } = process.cpuUsage();
  let sum = (user + system) / 1000;
  for (const pid of [...children.map((c) => c.pid), ...benchPids]) sum += (await cpuMs(pid).catch(() => 0)) || 0;
  return sum;
}

const fmt = (r: LoadResult) =>
  `${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms${r.errors + r.non2xx + r.badAnswers > 0 ? `  (errors ${r.errors}, non-2xx ${r.non2xx}${r.badAnswers > 0 ? `, no result ${r.badAnswers}` : ''})` : ''}`;

async function writeResults(json: unknown): Promise<void> {
  await mkdir(join(here, 'results'), { recursive: true });
  await writeFile(join(here, 'results', 'latest.json'), JSON.stringify(json, null, 2));
}

/** One MCP upstream through behalf against it direct, at one connection count. */
interface McpRatio {
  rps: number;
  p50AddedMs: number;
  /** behalf's CPU per call, µs. */
  cpuUsPerRequest: number;
  /** The upstream's CPU per call behind behalf and straight to it, µs: equal unless behalf changes the upstream's work. */
  upstreamBehindUsPerRequest: number;
  upstreamDirectUsPerRequest: number;
}

/**
 * MCP through behalf against MCP direct, for each upstream (`mcp`: the SDK's server, `raw`: the
 * minimal one) at each connection count both ran: printed, and returned for the JSON.
 */
function printMcpRatios(results: Record<string, Record<number, LoadResult>>): Record<string, Record<number, McpRatio>> | undefined {
  const all: Record<string, Record<number, McpRatio>> = {};
  for (const label of ['mcp', 'raw']) {
    const direct = results[`(m) ${label} direct`], behalf = results[`(m) ${label} behalf`];
    if (direct === undefined || behalf === undefined) continue;
    const out: Record<number, McpRatio> = (all[label] = {});
    console.log('');
    for (const n of CONNECTIONS) {
      const d = direct[n], m = behalf[n];
      if (d === undefined || m === undefined) continue;
      const x: McpRatio = (out[n] = {
        rps: m.rps / d.rps,
        p50AddedMs: m.p50Ms - d.p50Ms,
        cpuUsPerRequest: m.cpuUsPerRequest ?? NaN,
        upstreamBehindUsPerRequest: m.upstreamCpuUsPerRequest ?? NaN,
        upstreamDirectUsPerRequest: d.cpuUsPerRequest ?? NaN,
      });
      const target = n === 32 ? '  (target >= 0.70)' : '';
      console.log(
        `(m) ${label} behalf/direct at ${String(n).padStart(2)} conn: req/s ${x.rps.toFixed(2)}${target}  p50 ${x.p50AddedMs >= 0 ? '+' : ''}${x.p50AddedMs.toFixed(3)} ms  ` +
          `cpu/call: behalf ${x.cpuUsPerRequest.toFixed(0)} us, upstream ${x.upstreamBehindUsPerRequest.toFixed(0)} us behind behalf / ${x.upstreamDirectUsPerRequest.toFixed(0)} us direct`,
      );
    }
  }
  return Object.keys(all).length === 0 ? undefined : all;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'behalf-bench-'));
  const redisPrefix = benchKeyPrefix();
  let redisPid: number | undefined;
  try {
    const upstream = await startChild(['--import', 'tsx', join(here, 'upstream.ts')]);
    const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
    const bare = await startChild([...profileArgs('bare'), '--import', 'tsx', join(here, 'bare-proxy.ts'), upstreamUrl]);
    const bareUrl = `http://127.0.0.1:${bare.port}`;
    // (n): nginx as the floor of any proxy (skipped with a line saying why when it cannot run).
    let nginx: { url: string; pid: number | undefined } | undefined;
    if (wanted('n')) {
      const have = ensureNginx();
      if (!have.ok) console.log(`(n) nginx skipped: ${have.why}`);
      else {
        const port = await freePort();
        const child = await startNginx(new URL(upstreamUrl), port, join(work, 'nginx'));
        children.push(child);
        nginx = { url: `http://127.0.0.1:${port}`, pid: child.pid };
      }
    }
    // --expose-gc: their /memory report collects first, so it shows what is kept, not garbage.
    const mcpUpstream = wanted('m') ? await startChild([...profileArgs('mcp-upstream'), '--expose-gc', '--import', 'tsx', join(here, 'mcp-upstream.ts'), ...(MCP_JSON ? ['--json'] : [])]) : undefined;
    const mcpRawUpstream = wanted('m') ? await startChild([...profileArgs('mcp-raw-upstream'), '--expose-gc', '--import', 'tsx', join(here, 'mcp-raw-upstream.ts')]) : undefined;
    const mcpUpstreamUrl = mcpUpstream === undefined ? undefined : `http://127.0.0.1:${mcpUpstream.port}`;
    const mcpRawUpstreamUrl = mcpRawUpstream === undefined ? undefined : `http://127.0.0.1:${mcpRawUpstream.port}`;
    const mcpYaml = mcpUpstreamUrl === undefined || mcpRawUpstreamUrl === undefined ? { top: '', policy: '' } : mcpConfigYaml({ [MCP_UPSTREAM_ID]: `${mcpUpstreamUrl}/mcp`, [MCP_RAW_UPSTREAM_ID]: `${mcpRawUpstreamUrl}/mcp` });

    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    // (v): a backend that verifies every assertion with behalf/backend (its CPU next to the trivial upstream's).
    const verifying = wanted('v') ? await startChild([...profileArgs('verifying-upstream'), '--import', 'tsx', join(here, 'verifying-upstream.ts'), publicUrl, 'hr-backend']) : undefined;
    const verifyingUrl = verifying === undefined ? undefined : `http://127.0.0.1:${verifying.port}`;
    const idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@example.test' }], audience: publicUrl, defaultScopes: ['reviews:read'], log: () => {} });
    await writeFile(join(work, 'directory.yaml'), 'users:\n  - { id: alice, department: Platform }\n  - { id: bob, manager: alice, department: Platform }\n');
    /** The (c) config; the scale-out cases change the port and audit directory, add limits and leave out MCP. */
    const behalfYaml = (o: { port: number; audit: string; limits?: string; mcp?: boolean }) => `server: { port: ${o.port}, publicUrl: "${publicUrl}" }
issuers: [{ id: idp, issuer: "${idp.issuer}", audience: "${publicUrl}", requireType: at+jwt }]
directory: { file: directory.yaml }
signing: { keyFile: keys.json${BATCH_WAIT === undefined ? '' : `, batch: { maxWaitMicroseconds: ${BATCH_WAIT} }`} }
routes:
  - { id: hr, path: /api/hr, upstream: "${upstreamUrl}/v1", audience: hr-backend, identityHeaders: { X-User-Id: "{user.id}" }${NO_ASSERTION ? ', assertion: { enabled: false }' : ASSERTION_FORM === undefined ? '' : `, assertion: { form: ${ASSERTION_FORM} }`} }
${verifyingUrl === undefined ? '' : `  - { id: hrv, path: /api/verified, upstream: "${verifyingUrl}/v1", audience: hr-backend, identityHeaders: { X-User-Id: "{user.id}" } }
  - { id: hrvj, path: /api/verified-jwt, upstream: "${verifyingUrl}/v1", audience: hr-backend, identityHeaders: { X-User-Id: "{user.id}" }, assertion: { form: jwt } }
  - { id: hrvn, path: /api/unverified, upstream: "${verifyingUrl}/skip", audience: hr-backend, identityHeaders: { X-User-Id: "{user.id}" } }
`}policies:${verifyingUrl === undefined ? '' : `
  - id: verified-backend
    effect: allow
    match: { routes: [hrv, hrvj, hrvn], methods: [GET], paths: ["/api/verified/reviews/:employee", "/api/verified-jwt/reviews/:employee", "/api/unverified/reviews/:employee"] }
    when: request.params.employee in user.reports`}
  - id: manager-reads-reports
    effect: allow
    match: { routes: [hr], methods: [GET], paths: ["/api/hr/reviews/:employee"] }
    scopes: [reviews:read]
    when: request.params.employee in user.reports
  - id: manager-writes-reports
    effect: allow
    match: { routes: [hr], methods: [POST], paths: ["/api/hr/reviews/:employee"] }
    when: request.params.employee in user.reports
${o.mcp === false ? '' : `${mcpYaml.policy}${mcpYaml.top}`}audit: { store: ${o.audit}${NO_SYNC ? ', syncBeforeResponse: none' : ''} }
${o.limits ?? ''}log: { level: warn }
`;
    /** Starts `behalf serve` with `yaml` as `<name>.yaml`; resolves once it answers /healthz on `port`. */
    const startBehalf = async (name: string, port: number, yaml: string, audit: string): Promise<ChildProcess> => {
      await writeFile(join(work, `${name}.yaml`), yaml);
      await mkdir(join(work, audit), { recursive: true });
      const child = spawn(process.execPath, [...profileArgs(name), CLI, 'serve', '--config', join(work, `${name}.yaml`)], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
      children.push(child);
      await waitHealthy(`http://127.0.0.1:${port}`);
      return child;
    };
    const behalf = await startBehalf('behalf', port, behalfYaml({ port, audit: 'audit' }), 'audit');
    /** A scale-out case's gateway: the (c) config without MCP, on its own port and audit directory (they share the signing key file (c) made). */
    const startVariant = async (name: string, limits?: string): Promise<{ url: string; pid: number | undefined }> => {
      const p = await freePort();
      const yaml = behalfYaml({ port: p, audit: `audit-${name}`, mcp: false, ...(limits === undefined ? {} : { limits }) });
      return { url: `http://127.0.0.1:${p}`, pid: (await startBehalf(name, p, yaml, `audit-${name}`)).pid };
    };

    // The endpoint's tokens carry its own URL as audience (RFC 8707), the routes' the gateway's.
    const token = await idp.mint('alice', { audience: publicUrl });
    interface Target {
      name: string;
      url: string;
      path: string;
      headers: Record<string, string>;
      /** A POST with this body (see LoadOptions.body). */
      body?: (n: number) => string;
      pid: number | undefined;
      /** MCP cases: the endpoint to drive, and the upstream MCP server's pid (CPU per request). */
      mcp?: McpEndpoint;
      upstreamPid?: number | undefined;
      /** What `upstreamPid` is, in the printed line (default `upstream`; `redis` for the Redis limit store). */
      upstreamLabel?: string;
      /** (i): every instance, round-robin per connection; their CPU is summed (`extraPids`). */
      urls?: string[];
      extraPids?: (number | undefined)[];
      /** Measured only at this many connections or more. */
      minConnections?: number;
      /** MCP cases: the upstream's origin, whose `/memory` is read after each measurement. */
      memoryOrigin?: string;
    }
    const targets: Target[] = [
      { name: '(a) direct', url: upstreamUrl, path: '/v1/reviews/bob', headers: {}, pid: upstream.child.pid },
      { name: '(b) bare proxy', url: bareUrl, path: '/v1/reviews/bob', headers: {}, pid: bare.child.pid },
      ...(nginx === undefined ? [] : [{ name: '(n) nginx proxy', url: nginx.url, path: '/v1/reviews/bob', headers: {}, pid: nginx.pid }]),
      { name: '(c) behalf', url: publicUrl, path: '/api/hr/reviews/bob', headers: { authorization: `Bearer ${token}` }, pid: behalf.pid, ...(verifying === undefined ? {} : { upstreamPid: upstream.child.pid }) },
    ];
    if (verifying !== undefined) {
      // The same request to a backend that verifies it, once per form, and to the same backend
      // process skipping the verification (batched, as sent by default): the difference in the
      // backend's CPU per request is what verifying costs it, at the same load and batch sizes.
      for (const [name, path] of [['(v) verify batched', '/api/verified/reviews/bob'], ['(v) verify jwt', '/api/verified-jwt/reviews/bob'], ['(v) no verify', '/api/unverified/reviews/bob']] as const) {
        targets.push({ name, url: publicUrl, path, headers: { authorization: `Bearer ${token}` }, pid: behalf.pid, upstreamPid: verifying.child.pid, upstreamLabel: 'backend' });
      }
    }
    if (wanted('w')) {
      const review = (n: number) => `{"rating":"meets","summary":"review ${n}"}`;
      targets.push({ name: '(w) behalf POST', url: publicUrl, path: '/api/hr/reviews/bob', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: review, pid: behalf.pid });
    }
    const hr = { path: '/api/hr/reviews/bob', headers: { authorization: `Bearer ${token}` } };
    let unreachable: UnreachableStoreTimes | undefined;
    if (wanted('l')) {
      unreachable = await measureUnreachableStore();
      redisPid = await requireRedis(BENCH_REDIS_URL);
      if (redisPid !== undefined) benchPids.push(redisPid);
      const none = await startVariant('behalf-no-limits');
      const memory = await startVariant('behalf-limits-memory', limitsYaml('memory', redisPrefix));
      const redis = await startVariant('behalf-limits-redis', limitsYaml(BENCH_REDIS_URL, redisPrefix));
      targets.push(
        { name: SCALE_TARGETS.noLimits, ...hr, ...none },
        { name: SCALE_TARGETS.memory, ...hr, ...memory },
        { name: SCALE_TARGETS.redis, ...hr, ...redis, upstreamPid: redisPid, upstreamLabel: 'redis' },
      );
    }
    if (wanted('i')) {
      const [one, two] = [await startVariant('behalf-instance-1'), await startVariant('behalf-instance-2')];
      targets.push(
        { name: SCALE_TARGETS.one, ...hr, ...one },
        { name: SCALE_TARGETS.two, ...hr, ...one, urls: [one.url, two.url], extraPids: [two.pid], minConnections: 2 },
      );
    }
    if (mcpUpstream !== undefined && mcpUpstreamUrl !== undefined && mcpRawUpstream !== undefined && mcpRawUpstreamUrl !== undefined) {
      const mcpToken = await idp.mint('alice', { audience: `${publicUrl}/mcp` });
      // Interleaved: each upstream straight, then behind behalf, SDK then raw.
      for (const [label, id, origin, pid] of [
        ['mcp', MCP_UPSTREAM_ID, mcpUpstreamUrl, mcpUpstream.child.pid],
        ['raw', MCP_RAW_UPSTREAM_ID, mcpRawUpstreamUrl, mcpRawUpstream.child.pid],
      ] as const) {
        const direct: McpEndpoint = { url: origin, path: '/mcp', tool: MCP_TOOL };
        const gateway: McpEndpoint = { url: publicUrl, path: '/mcp', tool: `${id}.${MCP_TOOL}`, token: mcpToken };
        await waitForTool(gateway);
        targets.push(
          { name: `(m) ${label} direct`, url: direct.url, path: direct.path, headers: {}, pid, mcp: direct, memoryOrigin: origin },
          { name: `(m) ${label} behalf`, url: gateway.url, path: gateway.path, headers: {}, pid: behalf.pid, mcp: gateway, upstreamPid: pid, memoryOrigin: origin },
        );
      }
    }
    const measure = (t: Target, connections: number, seconds: number) => (t.mcp === undefined ? runLoad({ ...t, connections, seconds }) : runMcpLoad(t.mcp, connections, seconds));
    /** behalf's RSS every 5 s while `load` runs for MEMORY_SECONDS (nothing when 0). */
    const memoryRun = async (label: string, pid: number, load: () => Promise<LoadResult>): Promise<{ seconds: number; samplesMb: number[] } | undefined> => {
      if (MEMORY_SECONDS <= 0) return undefined;
      const samples: number[] = [];
      const sampler = setInterval(() => void rssMb(pid).then((mb) => samples.push(mb)), 5_000);
      const r = await load();
      clearInterval(sampler);
      samples.push(await rssMb(pid));
      console.log(`\n${label}memory over ${MEMORY_SECONDS} s at 32 connections (${r.rps.toFixed(0)} req/s): RSS ${samples.map((x) => x.toFixed(0)).join(' ')} MB`);
      return { seconds: MEMORY_SECONDS, samplesMb: samples };
    };
    /** The same for MCP tools/call through behalf, when (m) ran. */
    const mcpMemoryRun = () => {
      const m = targets.find((t) => t.name === '(m) mcp behalf');
      return m?.mcp === undefined || m.pid === undefined || !wanted('m') ? Promise.resolve(undefined) : memoryRun('(m) MCP tools/call: ', m.pid, () => runMcpLoad(m.mcp!, 32, MEMORY_SECONDS));
    };
    /** behalf's batch counters (signatures over batches, assertions in them), from its /metrics. */
    const batchCounts = async (): Promise<[number, number] | undefined> => {
      try {
        const text = await (await fetch(`${publicUrl}/metrics`)).text();
        const read = (name: string) => Number(text.split('\n').find((line) => line.startsWith(`${name} `))?.slice(name.length + 1) ?? NaN);
        return [read('behalf_assertion_batches_total'), read('behalf_assertions_batched_total')];
      } catch {
        return undefined;
      }
    };
    const results: Record<string, Record<number, LoadResult>> = {};
    console.log(`behalf benchmark: ${SECONDS} s per measurement, loopback, node ${process.version}\n`);
    for (const connections of CONNECTIONS) {
      for (const t of targets) {
        if (!wanted(t.name.slice(1, 2)) || connections < (t.minConnections ?? 0)) continue;
        await measure(t, connections, Math.min(2, SECONDS)); // warm-up
        const serverCpuMs = async () => (await Promise.all([t.pid, ...(t.extraPids ?? [])].map(cpuMs))).reduce((x, y) => x + y, 0);
        const cpu0 = await serverCpuMs();
        const up0 = await cpuMs(t.upstreamPid);
        const batches0 = t.pid === behalf.pid ? await batchCounts() : undefined;
        const [machine0, own0, gen0] = [await machineBusyMs(), await ownMs(), process.cpuUsage()];
        const r = await measure(t, connections, SECONDS);
        const batches1 = batches0 === undefined ? undefined : await batchCounts();
        const gen = process.cpuUsage(gen0);
        r.generatorCpuUsPerRequest = (gen.user + gen.system) / r.requests;
        // Other processes' CPU meanwhile, % of the machine: this VM is shared, so say when a
        // measurement ran next to something else.
        r.otherCpuPercent = Math.max(0, ((await machineBusyMs()) - machine0 - ((await ownMs()) - own0)) / (r.seconds * 10 * availableParallelism()));
        // CPU the server process spent per request: steadier than req/s on a machine whose
        // cores the load generator and the upstream share.
        r.cpuUsPerRequest = ((await serverCpuMs()) - cpu0) * 1000 / r.requests;
        if (t.upstreamPid !== undefined) r.upstreamCpuUsPerRequest = ((await cpuMs(t.upstreamPid)) - up0) * 1000 / r.requests;
        (results[t.name] ??= {})[connections] = r;
        const upstreamCpu = r.upstreamCpuUsPerRequest === undefined ? '' : `  (${t.upstreamLabel ?? 'upstream'} ${r.upstreamCpuUsPerRequest.toFixed(0)} us/req)`;
        // The MCP upstream's kept heap after the measurement: flat unless it leaks per call.
        const mem = t.memoryOrigin === undefined ? undefined : await upstreamMemory(t.memoryOrigin);
        if (mem !== undefined) r.upstreamHeapMb = mem.heapUsedMb;
        const memText = mem === undefined ? '' : `  [upstream heap ${mem.heapUsedMb.toFixed(1)} MB, rss ${mem.rssMb.toFixed(0)} MB]`;
        const signed = batches0 !== undefined && batches1 !== undefined ? [batches1[0] - batches0[0], batches1[1] - batches0[1]] : undefined;
        if (signed !== undefined && signed[0]! > 0) r.assertionsPerBatch = signed[1]! / signed[0]!;
        const batchText = r.assertionsPerBatch === undefined ? '' : `  [${r.assertionsPerBatch.toFixed(1)} assertions per batch signature]`;
        console.log(`${t.name.padEnd(16)} ${String(connections).padStart(2)} conn  ${fmt(r)}  cpu ${r.cpuUsPerRequest.toFixed(0)} us/req${upstreamCpu}${memText}${batchText}`);
        if (r.otherCpuPercent >= 5) console.log(`                 (other processes used ${r.otherCpuPercent.toFixed(0)}% of the machine meanwhile)`);
      }
    }
    const a = results['(a) direct'], b = results['(b) bare proxy'], c = results['(c) behalf'];
    if (a?.[32] === undefined || b?.[32] === undefined || c?.[32] === undefined) printFloorRatios(results);
    if (a?.[32] === undefined || b?.[32] === undefined || c?.[32] === undefined || b[1] === undefined || c[1] === undefined) {
      const mcpRatios = printMcpRatios(results);
      const scale = printScaleComparisons(results, unreachable);
      const mcpMemory = await mcpMemoryRun();
      if (mcpRatios !== undefined || scale !== undefined) await writeResults({ date: new Date().toISOString(), seconds: SECONDS, results, mcpRatios, scale, ...(mcpMemory === undefined ? {} : { mcpMemory }) });
      await idp.close();
      return;
    }
    const ratios = {
      rpsBehalfOverBare32: c[32].rps / b[32].rps,
      rpsBehalfOverDirect32: c[32].rps / a[32].rps,
      p50AddedOverBare1Ms: c[1].p50Ms - b[1].p50Ms,
      cpuAddedOverBareUs: (c[32].cpuUsPerRequest ?? NaN) - (b[32].cpuUsPerRequest ?? NaN),
    };
    console.log(`\n(c)/(b) req/s at 32 connections: ${ratios.rpsBehalfOverBare32.toFixed(2)}   (target >= 0.70)`);
    console.log(`(c)/(a) req/s at 32 connections: ${ratios.rpsBehalfOverDirect32.toFixed(2)}`);
    console.log(`(c)-(b) p50 at 1 connection:     ${ratios.p50AddedOverBare1Ms >= 0 ? '+' : ''}${ratios.p50AddedOverBare1Ms.toFixed(3)} ms   (target <= +0.5 ms)`);
    console.log(`(c)-(b) CPU per request:         +${ratios.cpuAddedOverBareUs.toFixed(0)} us`);
    printFloorRatios(results);
    const mcpRatios = printMcpRatios(results);
    const scale = printScaleComparisons(results, unreachable);

    const memory = behalf.pid === undefined ? undefined : await memoryRun('', behalf.pid, () => runLoad({ ...targets.find((t) => t.name === '(c) behalf')!, connections: 32, seconds: MEMORY_SECONDS }));
    const mcpMemory = await mcpMemoryRun();
    await writeResults({ date: new Date().toISOString(), seconds: SECONDS, results, ratios, ...(mcpRatios === undefined ? {} : { mcpRatios }), ...(scale === undefined ? {} : { scale }), memory, ...(mcpMemory === undefined ? {} : { mcpMemory }) });
    await idp.close();
  } finally {
    // Wait for the children to exit: behalf must stop before its directory and audit files go,
    // and a profiled process writes its profile on the way out.
    await Promise.all(children.map(stop));
    await rm(work, { recursive: true, force: true });
    if (wanted('l')) await dropKeys(BENCH_REDIS_URL, redisPrefix).catch(() => undefined);
  }
}

await main();
