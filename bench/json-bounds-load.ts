// The worker thread of json-bounds.ts: a backend, an upstream MCP server and the clients, so the
// gateway's thread does only the gateway's work. Each case is announced, started when the main
// thread has reset its event-loop histogram, and its answers (status counts) reported back.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { DEFAULTS } from '../src/config/defaults.js';
import { nestedObjectText, startRawUpstream } from '../test/faults/raw-upstream.js';

/** What one case's requests got back. */
export interface CaseResult {
  readonly name: string;
  /** `<status>x<count>` for each status, and the JSON-RPC error codes seen. */
  readonly answers: string;
}
export type FromLoad =
  | { kind: 'servers'; backendUrl: string; upstreamUrl: string }
  | { kind: 'case-start' }
  | { kind: 'request-start' }
  | { kind: 'request-end' }
  | { kind: 'case-end'; result: CaseResult }
  | { kind: 'done'; healthz?: string };
export type ToLoad = { kind: 'gateway'; url: string; token: string } | { kind: 'go' };

const port = parentPort!;
const requests = (workerData as { requests: number }).requests;
const next = () => new Promise<ToLoad>((resolve) => port.once('message', resolve));

const backend = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url?.startsWith('/deep') === true ? nestedObjectText(50_000) : '{"ok":true}');
  });
});
await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
const upstream = await startRawUpstream();
port.postMessage({ kind: 'servers', backendUrl: `http://127.0.0.1:${(backend.address() as AddressInfo).port}`, upstreamUrl: upstream.url } satisfies FromLoad);
const gateway = await next();
if (gateway.kind !== 'gateway') throw new Error('expected the gateway');
const agent = new Agent({ connections: 16 });

async function post(path: string, body: string, headers: Record<string, string>): Promise<string> {
  const res = await request(`${gateway.kind === 'gateway' ? gateway.url : ''}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, dispatcher: agent });
  const text = await res.body.text();
  const code = /"error":\{"code":(-?\d+)/.exec(text)?.[1];
  const isError = text.includes('"isError":true');
  return `${res.statusCode}${code === undefined ? '' : `/${code}`}${isError ? '/isError' : ''}`;
}

const bearer = { authorization: `Bearer ${gateway.token}` };
const route = (body: string) => post('/api/submit/x', body, bearer);
let rpcId = 1;
const call = (tool: string, args: string) =>
  post('/mcp', `{"jsonrpc":"2.0","id":${rpcId++},"method":"tools/call","params":{"name":"${tool}","arguments":${args}}}`, {
    ...bearer,
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18',
  });

/** Opens a session-less call path: the legacy form needs a session, so one is opened first. */
async function openSession(): Promise<void> {
  const res = await request(`${gateway.kind === 'gateway' ? gateway.url : ''}/mcp`, {
    method: 'POST',
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...bearer },
    dispatcher: agent,
  });
  await res.body.text();
  const session = res.headers['mcp-session-id'];
  if (typeof session !== 'string') throw new Error(`no session (HTTP ${res.statusCode})`);
  (bearer as Record<string, string>)['mcp-session-id'] = session;
}

const D = DEFAULTS.jsonMaxDepth;
const V = DEFAULTS.jsonMaxValues;
const ARG = DEFAULTS.toolMaxArgumentBytes;
/** `[{},{},...]` with n objects: the JSON costliest to parse per byte. */
const objects = (n: number) => `[${'{},'.repeat(n - 1)}{}]`;
const MiB = DEFAULTS.maxBodyBytes;
// A tools/call envelope holds ~15 values besides the arguments.
const allowedObjects = Math.min(V - 20, Math.floor((ARG - 20) / 3));

const CASES: readonly (readonly [string, () => Promise<string>])[] = [
  [`route: body nested ${D} levels (allowed)`, () => route(`{"who":"bob","x":${nestedObjectText(D - 1)}}`)],
  [`route: body of ${V - 10} values (allowed)`, () => route(`{"who":"bob","x":${objects(V - 10)}}`)],
  ['route: body of one 1 MiB string (allowed)', () => route(JSON.stringify({ who: 'bob', x: 'x'.repeat(MiB - 40) }))],
  ['route: 1 MiB nested 500,000 levels (refused)', () => route(`${'['.repeat(MiB / 2 - 1)}${']'.repeat(MiB / 2 - 1)}`)],
  ['route: 1 MiB of {} values (refused)', () => route(objects(Math.floor(MiB / 3) - 1))],
  [`config tool: arguments nested ${D - 2} levels (allowed)`, () => call('submit_tool', nestedObjectText(D - 2))],
  [`upstream tool: arguments nested ${D - 2} levels (allowed)`, () => call('up.take', nestedObjectText(D - 2))],
  [`config tool: arguments of ${allowedObjects} {} values (allowed)`, () => call('submit_tool', `{"items":${objects(allowedObjects)}}`)],
  [`upstream tool: arguments of ${allowedObjects} {} values (allowed)`, () => call('up.take', `{"items":${objects(allowedObjects)}}`)],
  [`config tool: one ${ARG - 40}-byte string argument (allowed)`, () => call('submit_tool', JSON.stringify({ text: 'x'.repeat(ARG - 40) }))],
  [`upstream tool: one ${ARG - 40}-byte string argument (allowed)`, () => call('up.take', JSON.stringify({ text: 'x'.repeat(ARG - 40) }))],
  ['config tool: ~1 MiB string argument (refused, arguments-too-large)', () => call('submit_tool', JSON.stringify({ text: 'x'.repeat(MiB - 200) }))],
  ['upstream tool: ~1 MiB of {} arguments (refused, too many values)', () => call('up.take', `{"items":${objects(Math.floor(MiB / 3) - 100)}}`)],
  ['upstream tool: result nested 50,000 levels (isError)', () => call('up.deep', '{}')],
  ['config tool: backend result nested 50,000 levels (isError)', () => call('deep_backend', '{}')],
];

await openSession();
// Warm-up: every path once, so compilation and first connections are not measured.
for (const [, send] of CASES) await send();

for (const [name, send] of CASES) {
  port.postMessage({ kind: 'case-start' } satisfies FromLoad);
  await next();
  const seen = new Map<string, number>();
  for (let i = 0; i < requests; i++) {
    // One request at a time, the histogram reset before each: the main thread keeps each one's worst stretch.
    port.postMessage({ kind: 'request-start' } satisfies FromLoad);
    await next();
    const answer = await send();
    port.postMessage({ kind: 'request-end' } satisfies FromLoad);
    await next();
    seen.set(answer, (seen.get(answer) ?? 0) + 1);
  }
  port.postMessage({ kind: 'case-end', result: { name, answers: [...seen].map(([a, n]) => `${a} x${n}`).join(', ') } } satisfies FromLoad);
}

// Eight clients with the largest allowed arguments, and /healthz polled meanwhile.
port.postMessage({ kind: 'case-start' } satisfies FromLoad);
await next();
const args = `{"items":${objects(allowedObjects)}}`;
const until = Date.now() + 3_000;
const statuses = new Map<string, number>();
const clients = Array.from({ length: 8 }, async (_, c) => {
  while (Date.now() < until) {
    const answer = await call(c % 2 === 0 ? 'submit_tool' : 'up.take', args);
    statuses.set(answer, (statuses.get(answer) ?? 0) + 1);
  }
});
const latencies: number[] = [];
const poll = (async () => {
  while (Date.now() < until) {
    const t = performance.now();
    const res = await request(`${gateway.url}/healthz`, { dispatcher: agent });
    await res.body.text();
    latencies.push(performance.now() - t);
  }
})();
await Promise.all([...clients, poll]);
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
port.postMessage({
  kind: 'case-end',
  result: { name: 'healthz under 8 clients (largest allowed arguments)', answers: [...statuses].map(([a, n]) => `${a} x${n}`).join(', ') },
} satisfies FromLoad);
port.postMessage({ kind: 'done', healthz: `${latencies.length} polls, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${latencies.at(-1)!.toFixed(1)} ms` } satisfies FromLoad);
await agent.close();
await upstream.close();
backend.close();
