// The event-loop block per request at the default JSON bounds (issue 11, "Untrusted JSON depth"):
// how long one request holds behalf's event loop when its JSON is the deepest or largest the
// defaults allow (server.maxJsonDepth 64, server.maxJsonValues 10,000, mcp.maxArgumentBytes 64 KiB,
// server.maxBodyBytes 1 MiB), when it is refused for being past them, and when a result is too deep.
//
//   node --import tsx bench/json-bounds.ts [--requests N]
//
// behalf runs in this thread, alone: the clients, the backend and the upstream MCP server run in a
// worker thread (json-bounds-load.ts), so this thread's event loop does only the gateway's work.
// Each case sends N requests (default 30) one after the other; the block is the largest event-loop
// delay seen while it is processed (perf_hooks.monitorEventLoopDelay, 1 ms resolution: the
// longest stretch the loop could not serve anything else, to about a millisecond); the median
// over the requests is the figure, since on a shared machine a single request's may include the
// thread being descheduled (the p90 and max are printed too). Then eight clients send the largest
// allowed arguments for 3 s while a ninth polls /healthz.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { freePort } from '../examples/hr-demo/launch.js';
import { validateConfig } from '../src/config/load.js';
import { startDevIdp } from '../src/dev-idp/index.js';
import { startGateway } from '../src/gateway.js';
import type { CaseResult, FromLoad, ToLoad } from './json-bounds-load.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const requests = arg('requests', 30);

const dir = await mkdtemp(join(tmpdir(), 'behalf-bench-json-'));
const port = await freePort();
const publicUrl = `http://127.0.0.1:${port}`;
const idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@example.test' }], audience: [publicUrl, `${publicUrl}/mcp`], log: () => undefined });
const token = await idp.mint('alice');

// Node 20 does not run --import hooks in workers: the worker registers tsx itself, then loads the TypeScript.
const loadUrl = new URL('./json-bounds-load.ts', import.meta.url).href;
const worker = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(loadUrl)}); });`, { eval: true, workerData: { requests } });
const next = () => new Promise<FromLoad>((resolve) => worker.once('message', resolve));
const tell = (message: ToLoad) => worker.postMessage(message);

const started = await next();
if (started.kind !== 'servers') throw new Error('the load worker did not start its servers');
const validated = validateConfig({
  server: { port, publicUrl },
  issuers: [{ id: 'dev', issuer: idp.issuer, audience: [publicUrl, `${publicUrl}/mcp`], jwksUri: idp.jwksUri }],
  routes: [{ id: 'submit', path: '/api/submit', upstream: started.backendUrl, methods: ['POST', 'GET'] }],
  mcp: {},
  tools: [
    { name: 'submit_tool', inputSchema: { type: 'object' }, call: { route: 'submit', method: 'POST', path: '/submit', body: '$args' } },
    { name: 'deep_backend', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true }, call: { route: 'submit', method: 'GET', path: '/deep' } },
  ],
  upstreams: [{ id: 'up', url: started.upstreamUrl, pinning: 'off' }],
  policies: [
    { id: 'submit', effect: 'allow', match: { routes: ['submit'] }, when: '!has(body.who) || body.who != "mallory"' },
    { id: 'tools', effect: 'allow', match: { tools: ['submit_tool', 'deep_backend', 'up.take', 'up.deep'] } },
  ],
  signing: { keyFile: join(dir, 'keys.json') },
  audit: { store: join(dir, 'audit') },
});
if (!validated.ok) throw new Error(validated.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
const gateway = await startGateway({ config: validated.config, baseDir: dir, file: join(dir, 'behalf.yaml') }, { logger: pino({ level: 'silent' }) });

const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
tell({ kind: 'gateway', url: publicUrl, token });
const results: (CaseResult & { median: number; p90: number; max: number })[] = [];
/** Each request's worst stretch in the current case, ms. */
let blocks: number[] = [];
const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
for (;;) {
  const message = await next();
  if (message.kind === 'case-start') {
    blocks = [];
    histogram.reset();
    tell({ kind: 'go' });
  } else if (message.kind === 'request-start') {
    histogram.reset();
    tell({ kind: 'go' });
  } else if (message.kind === 'request-end') {
    blocks.push(ms(histogram.max));
    tell({ kind: 'go' });
  } else if (message.kind === 'case-end') {
    if (blocks.length === 0) blocks.push(ms(histogram.max));
    const sorted = [...blocks].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    results.push({ ...message.result, median: at(0.5), p90: at(0.9), max: sorted.at(-1)! });
  } else if (message.kind === 'done') {
    const width = Math.max(...results.map((r) => r.name.length));
    console.log(`event-loop block per request at the default bounds: each request's longest stretch without the loop (${requests} requests per case, ms)`);
    for (const r of results) {
      console.log(`${r.name.padEnd(width)}  median ${r.median.toFixed(1).padStart(5)}  p90 ${r.p90.toFixed(1).padStart(5)}  max ${r.max.toFixed(1).padStart(5)}  answers ${r.answers}`);
    }
    const cases = results.filter((r) => !r.name.startsWith('healthz'));
    const worst = cases.reduce((a, b) => (b.median > a.median ? b : a));
    console.log(`\nworst case (median of its requests): ${worst.median.toFixed(1)} ms, p90 ${worst.p90.toFixed(1)} ms (${worst.name})`);
    if (message.healthz !== undefined) console.log(`/healthz during 8 clients x largest allowed arguments: ${message.healthz}`);
    break;
  }
}
histogram.disable();
await worker.terminate();
await gateway.close();
await idp.close();
await rm(dir, { recursive: true, force: true });
