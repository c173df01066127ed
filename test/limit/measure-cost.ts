/**
 * What the limit stage costs: the limiter's check with the memory store and with Redis (µs per
 * check, in process), then req/s and p50 through a behalf process with no limits, with limits
 * in memory and with limits in Redis. Not a test (timing belongs in benchmarks); run it with
 *
 *   node --conditions=behalf-source --import tsx test/limit/measure-cost.ts [seconds]
 *
 * It needs Redis at BEHALF_TEST_REDIS_URL (default redis://127.0.0.1:6379/0) and writes only
 * keys under a random `behalf-measure:` prefix, deleted at the end. Results: docs/limits.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runLoad, type LoadResult } from '../../bench/load.js';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { Identity } from '../../src/authenticate/identity.js';
import { limitsSchema } from '../../src/config/schema.js';
import { startDevIdp } from '../../src/dev-idp/index.js';
import { createLimiter } from '../../src/limit/limiter.js';
import { createMemoryLimitStore } from '../../src/stores/memory-limits.js';
import { createRedisLimitStore } from '../../src/stores/redis-limits.js';
import type { LimitStore } from '../../src/stores/types.js';
import { adminClient, dropPrefix, REDIS_URL } from './redis-env.js';

const SECONDS = Number(process.argv[2] ?? 5);
const root = new URL('../../', import.meta.url).pathname;
const RUN = `measure-${process.pid}`;
const prefix = `behalf-measure:${process.pid}:`;
const children: ChildProcess[] = [];

const RULES = {
  one: [{ id: 'rate', rate: { limit: 1_000_000_000, windowSeconds: 60 } }],
  four: [
    { id: 'rate', rate: { limit: 1_000_000_000, windowSeconds: 60 } },
    { id: 'quota', quota: { limit: 1_000_000_000, period: 'day' } },
    { id: 'conc', concurrency: 1_000_000 },
  ],
};

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

/** µs per check, one at a time; and checks/s with 32 in flight. */
async function checkCost(store: LimitStore, rules: unknown[], runaway: boolean): Promise<string> {
  const limits = limitsSchema.parse({ rules, ...(runaway ? { runaway: { repeats: 1_000_000, withinSeconds: 1 } } : {}) });
  const limiter = createLimiter(limits, store);
  const identity: Identity = { id: 'alice', issuer: 'https://idp.example', issuerId: 'idp', roles: [], groups: [], scopes: [], expiresAt: 0 };
  let n = 0;
  const once = async () => {
    const v = await limiter.check({ door: 'http', identity, route: 'hr', method: 'GET', call: { what: 'GET /api/hr', digest: String(n++ % 64) } });
    if (v.allow) v.lease?.settle();
    else throw new Error('a measurement check was refused');
  };
  for (let i = 0; i < 2_000; i++) await once();
  const times: number[] = [];
  const until = performance.now() + 2_000;
  while (performance.now() < until) {
    const t0 = performance.now();
    await once();
    times.push((performance.now() - t0) * 1000);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  let done = 0;
  const end = performance.now() + 2_000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (performance.now() < end) {
        await once();
        done += 1;
      }
    }),
  );
  const perSecond = done / ((performance.now() - t0) / 1000);
  return `mean ${mean.toFixed(1)} µs  p50 ${pct(times, 50).toFixed(1)} µs  p99 ${pct(times, 99).toFixed(1)} µs  | 32 in flight: ${Math.round(perSecond)} checks/s`;
}

function startChild(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env });
    children.push(child);
    child.stdout?.once('data', (d: Buffer) => resolve({ child, port: (JSON.parse(d.toString().split('\n')[0]!) as { port: number }).port }));
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

/** CPU time a process has used, ms (Linux /proc; clock ticks of 10 ms). */
async function cpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
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

/** req/s and p50 through a behalf process whose `limits` section is `limitsYaml`; `cpuUsPerRequest` is the gateway process's. */
async function throughBehalf(name: string, limitsYaml: string, upstreamUrl: string, work: string): Promise<Record<number, LoadResult>> {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@example.test' }], audience: publicUrl, log: () => undefined });
  const file = join(work, `${name}.yaml`);
  await writeFile(
    file,
    `server: { port: ${port}, publicUrl: "${publicUrl}" }
issuers: [{ id: idp, issuer: "${idp.issuer}", audience: "${publicUrl}" }]
signing: { keyFile: keys.json }
routes: [{ id: hr, path: /api/hr, upstream: "${upstreamUrl}/v1" }]
policies: [{ id: anyone, effect: allow, match: { routes: [hr] } }]
${limitsYaml}
audit: { store: audit-${name} }
log: { level: warn }
`,
  );
  const gw = spawn(process.execPath, ['--conditions=behalf-source', '--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', file], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(gw);
  try {
    await waitHealthy(publicUrl);
    const headers = { authorization: `Bearer ${await idp.mint('alice', { audience: publicUrl })}` };
    const out: Record<number, LoadResult> = {};
    for (const connections of [1, 32]) {
      await runLoad({ url: publicUrl, path: '/api/hr/reviews', headers, connections, seconds: 1 });
      const cpu0 = await cpuMs(gw.pid);
      const r = await runLoad({ url: publicUrl, path: '/api/hr/reviews', headers, connections, seconds: SECONDS });
      r.cpuUsPerRequest = (((await cpuMs(gw.pid)) - cpu0) * 1000) / r.requests;
      out[connections] = r;
      console.log(
        `  ${name.padEnd(10)} ${String(connections).padStart(2)} conn: ${String(Math.round(r.rps)).padStart(5)} req/s  p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  gateway cpu ${r.cpuUsPerRequest.toFixed(0)} µs/req  (${r.non2xx} non-2xx)`,
      );
    }
    return out;
  } finally {
    gw.kill('SIGTERM');
    await new Promise((r) => gw.once('exit', r));
    await idp.close();
  }
}

async function main(): Promise<void> {
  const admin = await adminClient();
  const work = await mkdtemp(join(tmpdir(), 'behalf-limit-measure-'));
  try {
    console.log(`limit check, in process (node ${process.version}):`);
    const memory = createMemoryLimitStore();
    const redis = createRedisLimitStore(REDIS_URL, { keyPrefix: prefix });
    await redis.waitConnected(2_000);
    for (const [label, rules, runaway] of [
      ['1 rate rule', RULES.one, false],
      ['3 rules + runaway guard', RULES.four, true],
    ] as const) {
      console.log(`  memory, ${label}: ${await checkCost(memory, [...rules], runaway)}`);
      console.log(`  redis,  ${label}: ${await checkCost(redis, [...rules], runaway)}`);
    }
    await redis.close();

    console.log(`\nthrough behalf (GET, one route, ${SECONDS} s per measurement):`);
    const upstream = await startChild(['--import', 'tsx', join(root, 'bench', 'upstream.ts')]);
    const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
    // Rule ids of this run only: the gateway writes under the default key prefix.
    const rules = `rules: [{ id: ${RUN}-rate, rate: { limit: 1000000000, windowSeconds: 60 } }, { id: ${RUN}-quota, quota: { limit: 1000000000, period: day } }, { id: ${RUN}-conc, concurrency: 1000000 }]`;
    const none = await throughBehalf('no-limits', '', upstreamUrl, work);
    const mem = await throughBehalf('memory', `limits: { store: memory, ${rules} }`, upstreamUrl, work);
    const red = await throughBehalf('redis', `limits: { store: "${REDIS_URL}", ${rules} }`, upstreamUrl, work);
    for (const [name, r] of [
      ['memory', mem],
      ['redis', red],
    ] as const) {
      const added = (r[32]!.cpuUsPerRequest ?? NaN) - (none[32]!.cpuUsPerRequest ?? NaN);
      console.log(
        `  ${name}: p50 ${(r[1]!.p50Ms - none[1]!.p50Ms).toFixed(3)} ms added at 1 conn; ${(r[32]!.rps / none[32]!.rps).toFixed(2)}x the req/s of no limits and ${added >= 0 ? '+' : ''}${added.toFixed(0)} µs gateway CPU per request at 32 conn`,
      );
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await dropPrefix(admin, prefix);
    for (const rule of ['rate', 'quota', 'conc']) await dropPrefix(admin, `behalf:limit:${RUN}-${rule}:`);
    admin.disconnect();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
