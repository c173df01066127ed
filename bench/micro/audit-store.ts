// The audit trail's whole per-request cost on the gateway's main thread: 32 concurrent requests
// each stamp a receipt time, append one record (fresh id, time, path, latency) to a real embedded
// store at `written` durability (the bench's GET requests) and count themselves in the request
// counter, over and over. Prints CPU (user+system of this process, so fsyncs on the thread pool
// count too) and wall time per request. The file store writes to a temp directory under /tmp.
//   node --import tsx bench/micro/audit-store.ts [--root <worktree>]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootArg } from './measure.js';

const root = rootArg();
const { openFileAuditStore } = (await import(`${root}/src/audit/file-store.ts`)) as typeof import('../../src/audit/file-store.js');
const { createMetrics } = (await import(`${root}/src/observe/metrics.ts`)) as typeof import('../../src/observe/metrics.js');
const iso = (await import(`${root}/src/lib/iso-time.ts`).catch(() => undefined)) as typeof import('../../src/lib/iso-time.js') | undefined;
const isoTime = iso?.isoTime ?? ((ms: number) => new Date(ms).toISOString());
const metrics = createMetrics({ defaultMetrics: false }) as ReturnType<typeof createMetrics> & { countRequest?: (a: string, b: string, c: string, d: string) => void };
const count = metrics.countRequest ?? ((door: string, route: string, decision: string, reason: string) => metrics.requests.inc({ door, route, decision, reason }));
console.log(`audit store per request, code from ${root}`);

const dir = await mkdtemp(join(tmpdir(), 'behalf-micro-audit-'));
const store = await openFileAuditStore(dir);
const CONCURRENT = 32;
let n = 0;

async function oneRequest(): Promise<void> {
  const i = n++;
  const time = isoTime(Date.now());
  await store.append(
    [{
      time, requestId: `r${i.toString(36).padStart(21, '0')}`, door: 'http', route: 'employees', tool: undefined, method: 'GET',
      path: `/employees/e${i & 1023}?fields=`, user: 'alice@example.com', tenant: 'acme', client: 'assistant-app', issuer: 'http://127.0.0.1:9000',
      decision: 'allow', reason: 'allowed-by-rule', ruleId: 'managers-read-reports', status: 200, upstreamStatus: 200,
      latencyMs: Math.round((0.3 + (i & 1023) * 0.0137) * 1000) / 1000, bytesIn: 0, bytesOut: 57, bodyDigest: undefined, detail: undefined,
      rpcMethod: undefined, upstream: undefined, resource: undefined, prompt: undefined, argsDigest: undefined, resultError: undefined, phase: undefined,
    }],
    { durability: 'written' },
  );
  count('http', 'employees', 'allow', 'allowed-by-rule');
}

async function round(requests: number): Promise<{ cpu: number; wall: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let started = 0;
  await Promise.all(Array.from({ length: CONCURRENT }, async () => {
    while (started < requests) {
      started++;
      await oneRequest();
    }
  }));
  const wall = Number(process.hrtime.bigint() - t0) / 1000 / requests;
  const c = process.cpuUsage(cpu0);
  return { cpu: (c.user + c.system) / requests, wall };
}

await round(20_000);
const results: { cpu: number; wall: number }[] = [];
for (let r = 0; r < 5; r++) results.push(await round(50_000));
results.sort((a, b) => a.cpu - b.cpu);
console.log(`per request: cpu ${results.map((r) => r.cpu.toFixed(2)).join(' ')} us (best ${results[0]!.cpu.toFixed(2)}), wall best ${Math.min(...results.map((r) => r.wall)).toFixed(2)} us`);
await store.close();
await rm(dir, { recursive: true, force: true });
