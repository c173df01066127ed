// The MCP conformance suite (@modelcontextprotocol/conformance, server scenarios, suite "all")
// against two MCP servers, each measured twice: directly, and through behalf fronting it as an
// upstream. Every scenario that passes directly must pass through behalf; a scenario that does
// not is a regression (exit 1), unless it is excused in conformance-report.mjs with its reason.
//
//   npm run conformance                       # table and verdict
//   node scripts/conformance.mjs --json out.json   # also the results, machine-readable
//   node scripts/conformance.mjs --suite 0.1.13    # one release of the suite only
//
// Two releases of the suite run, each with the same rule:
//   0.1.13          the pinned devDependency (Node 20), scenarios of the session-based revisions
//   0.2.0-alpha.12  the newest prerelease, which needs Node 22: run through npx with the npm
//                   registry's `node@22` package (as test/slow/inspector.test.ts runs the
//                   Inspector), so this machine's Node 20 stays the runtime and CI installs
//                   nothing by hand. Its suite "all" adds the stateless revision (2026-07-28):
//                   `server-stateless`, the header and caching scenarios, and the draft ones.
//
// The servers:
//   everything   @modelcontextprotocol/server-everything (the reference server on npm), HTTP
//   suite-tools  scripts/conformance-upstream.mjs: the tools, resources, prompts and completions
//                the suite's scenarios use
//
// How behalf runs here: the dev IdP mints a token for the test user (alice); behalf fronts the
// server as `upstreams: [{ id, url, namespace: "" }]` (so the scenarios' bare tool names work)
// with one rule allowing that user everything. The suite cannot send headers, so a loopback proxy
// in front of behalf adds `Authorization: Bearer <token>` to every request; behalf's public URL is
// the proxy's (as behind any reverse proxy), so the token's audience is `<proxy>/mcp`.
//
// behalf runs from its sources (src/, through tsx), never from a build in dist/ that may be
// stale: started without `--conditions=behalf-source --import tsx`, the script runs itself again
// with them (the HR demo it borrows users from imports `behalf/backend`, which only that
// condition resolves to src/).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import { createConnection, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonOf, outcomeOf, report } from './conformance-report.mjs';
import { startConformanceUpstream } from './conformance-upstream.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_ENTRY = new URL('../src/backend/index.ts', import.meta.url).href;

/** Whether `behalf/...` resolves to src/ in this process (else to dist/, or nowhere before a build). */
function onSources() {
  try {
    return import.meta.resolve('behalf/backend') === SOURCE_ENTRY;
  } catch {
    return false;
  }
}

/** This script again, on the sources; resolves its exit code. */
function rerunOnSources() {
  const child = spawn(process.execPath, ['--conditions=behalf-source', '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

if (!onSources()) process.exit(await rerunOnSources());
console.log('behalf under test: the sources (src/, --conditions=behalf-source)');
const { pino } = await import('pino');
const { startDevIdp } = await import('../src/dev-idp/index.ts');
const { validateConfig } = await import('../src/config/load.ts');
const { startGateway } = await import('../src/gateway.ts');
const { DEMO_DIR, DEMO_USERS } = await import('../examples/hr-demo/launch.ts');

const CONFORMANCE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const TEST_USER = 'alice';
const RUN_TIMEOUT_MS = 240_000;

/** The releases of the suite that run, each as a command line before its `server ...` arguments. */
const SUITES = [
  { id: '0.1.13', command: [process.execPath, CONFORMANCE] },
  { id: '0.2.0-alpha.12', command: ['npx', '-y', '-p', 'node@22', '-p', '@modelcontextprotocol/conformance@0.2.0-alpha.12', 'conformance'] },
];

/** The environment of a suite run: npx must not inherit the test runner's or tsx's settings. */
function suiteEnv() {
  const env = { ...process.env, npm_config_update_notifier: 'false' };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return env;
}

function parseArgs(argv) {
  const out = { json: undefined, keep: false, suites: SUITES };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') out.json = argv[++i];
    else if (argv[i] === '--keep') out.keep = true;
    else if (argv[i] === '--suite' && SUITES.some((s) => s.id === argv[i + 1])) {
      const id = argv[++i];
      out.suites = SUITES.filter((s) => s.id === id);
    } else {
      console.error(`usage: node scripts/conformance.mjs [--json <file>] [--keep] [--suite ${SUITES.map((s) => s.id).join('|')}]\nunknown argument: ${argv[i]}`);
      process.exit(2);
    }
  }
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, deadlineMs) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = createConnection({ port, host: '127.0.0.1' }, () => (c.end(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on port ${port} after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The reference server, as a child process (its own express app, port from PORT). */
async function startEverything() {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await Promise.race([waitForPort(port, 15_000), exited.then((code) => Promise.reject(new Error(`server-everything exited (${code})`)))]);
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Forwards every request to `target` as is (Host included), adding the bearer token; streams both ways. */
function startBearerProxy(port, targetPort, token) {
  const server = createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${token}` };
    const up = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.once('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    res.once('close', () => up.destroy());
    req.pipe(up);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
      }),
    );
  });
}

/** behalf fronting `upstreamUrl` (dev IdP, gateway, bearer proxy); resolves once its tools are listed. */
async function startBehalf(id, upstreamUrl, dir) {
  const [proxyPort, gatewayPort] = [await freePort(), await freePort()];
  const publicUrl = `http://127.0.0.1:${proxyPort}`;
  const idp = await startDevIdp({ users: DEMO_USERS, audience: `${publicUrl}/mcp`, log: () => undefined });
  const validated = validateConfig({
    server: { host: '127.0.0.1', port: gatewayPort, publicUrl },
    issuers: [{ id: 'dev-idp', issuer: idp.issuer, audience: publicUrl, requireType: 'at+jwt' }],
    directory: { file: join(DEMO_DIR, 'directory.yaml') },
    signing: { keyFile: join(dir, 'keys.json') },
    mcp: {},
    upstreams: [{ id, url: upstreamUrl, namespace: '', pinning: 'off' }],
    policies: [{ id: 'conformance-user-may-call-everything', effect: 'allow', when: `user.id == "${TEST_USER}"` }],
    audit: { store: join(dir, 'audit') },
  });
  if (!validated.ok) throw new Error(`behalf config invalid: ${validated.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const gateway = await startGateway({ config: validated.config, baseDir: dir, file: join(dir, 'behalf.yaml') }, { logger: pino({ level: 'silent' }) });
  const token = await idp.mint(TEST_USER, { audience: `${publicUrl}/mcp` });
  const proxy = await startBearerProxy(proxyPort, gatewayPort, token);
  const close = async () => {
    await proxy.close();
    await gateway.close();
    await idp.close();
  };
  try {
    await waitForTools(`${publicUrl}/mcp`);
  } catch (err) {
    await close();
    throw err;
  }
  return { url: `${publicUrl}/mcp`, close };
}

/** Upstreams connect in the background: wait until behalf lists some tool. */
async function waitForTools(url) {
  const post = (body, session) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}) },
      body: JSON.stringify(body),
    });
  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'conformance-wait', version: '1' } } });
  const session = init.headers.get('mcp-session-id');
  if (!init.ok || session === null) throw new Error(`behalf did not accept initialize (HTTP ${init.status})`);
  const end = Date.now() + 15_000;
  for (;;) {
    const res = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, session);
    const tools = res.ok ? ((await res.json()).result?.tools ?? []) : [];
    if (tools.length > 0) return;
    if (Date.now() > end) throw new Error('behalf listed no tools of the upstream within 15 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs every server scenario of `suite` against `url`; resolves to Map(scenario -> outcome). */
async function runSuite(suite, url, outDir) {
  const [bin, ...pre] = suite.command;
  const child = spawn(bin, [...pre, 'server', '--url', url, '--suite', 'all', '-o', outDir], { stdio: ['ignore', 'pipe', 'pipe'], env: suiteEnv() });
  let log = '';
  child.stdout.on('data', (d) => (log = (log + d).slice(-4000)));
  child.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  const results = new Map();
  for (const entry of existsSync(outDir) ? await readdir(outDir) : []) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    // A scenario the suite skipped (an extension it does not apply) leaves an empty folder.
    if (m === null || !existsSync(join(outDir, entry, 'checks.json'))) continue;
    const checks = JSON.parse(await readFile(join(outDir, entry, 'checks.json'), 'utf8'));
    results.set(m[1], outcomeOf(checks));
  }
  if (results.size === 0) throw new Error(`the conformance suite ${suite.id} produced no results for ${url}:\n${log}`);
  return results;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'behalf-conformance-'));
  const started = [];
  const t0 = Date.now();
  let exitCode = 0;
  try {
    const everything = await startEverything();
    started.push(everything);
    const suiteTools = await startConformanceUpstream();
    started.push(suiteTools);
    const servers = [
      { id: 'everything', title: 'server-everything', direct: everything.url },
      { id: 'suite-tools', title: 'suite tools', direct: suiteTools.url },
    ];
    for (const s of servers) {
      const gw = await startBehalf(s.id, s.direct, await mkdtemp(join(work, `behalf-${s.id}-`)));
      started.push(gw);
      s.behalf = gw.url;
    }
    const measured = [];
    for (const suite of args.suites) {
      const rows = servers.map((s) => ({ ...s, suite: suite.id }));
      for (const s of rows) {
        const dir = join(work, suite.id, s.id);
        s.results = { direct: await runSuite(suite, s.direct, `${dir}-direct`), behalf: await runSuite(suite, s.behalf, `${dir}-behalf`) };
      }
      exitCode = Math.max(exitCode, report(rows, Date.now() - t0, suite.id));
      measured.push(...rows);
    }
    if (args.json !== undefined) await writeFile(args.json, JSON.stringify(jsonOf(measured), null, 2));
  } catch (err) {
    console.error(`conformance: ${err instanceof Error ? err.message : String(err)}`);
    exitCode = 2;
  } finally {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
    if (args.keep) console.log(`results kept in ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

await main();
