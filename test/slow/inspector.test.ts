import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { launchDemo, type Demo } from '../../examples/hr-demo/launch.js';

// The MCP Inspector's CLI (2.x, which needs Node >= 22.19) against the HR demo's /mcp, the way
// its docs tell CI jobs to run it: a bearer header, non-interactive. Node 22 comes from the npm
// registry's `node` package (`npx -p node@22`), so this machine's Node 20 stays the runtime.
// The first run fetches the Inspector and Node 22 (about 230 MB unpacked, ~25 s); later runs use
// npm's cache (~2 s a call). The README's Inspector lines are run as written (only the demo's
// fixed ports changed to this test's), and docs/mcp.md must give the same command.

const INSPECTOR = ['-y', '-p', 'node@22', '-p', '@modelcontextprotocol/inspector@2.12.0', 'mcp-inspector'];

let demo: Demo;
let dir: string;
let mcpUrl: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'behalf-inspector-'));
  demo = await launchDemo({ stateDir: join(dir, 'state'), logger: pino({ level: 'silent' }) });
  mcpUrl = `${demo.gatewayUrl}/mcp`;
});
after(async () => {
  await demo.close();
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `npx mcp-inspector <args>` with a HOME of its own (the Inspector keeps a catalog, client
 * config and OAuth state there), but npm's usual cache, and no terminal: stdin is closed.
 */
function inspector(args: string[], timeoutMs = 60_000): Promise<Run> {
  return run('npx', [...INSPECTOR, ...args], timeoutMs);
}

function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(dir, 'home'), npm_config_cache: process.env['npm_config_cache'] ?? join(homedir(), '.npm'), npm_config_update_notifier: 'false' };
  delete env['NODE_TEST_CONTEXT'];
  delete env['NODE_OPTIONS'];
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const bearer = async (user: string) => `Authorization: Bearer ${await demo.idp.mint(user, { audience: mcpUrl })}`;
const cli = (...args: string[]) => ['--cli', mcpUrl, '--transport', 'http', ...args];
/** The error envelope the Inspector prints on stderr when it fails: `{"error":{"code","message"}}`. */
function errorOf(r: Run): { code: string; message: string } {
  const line = r.stderr.split('\n').find((l) => l.startsWith('{"error"'));
  assert.ok(line, `an error envelope on stderr\n${shown(r)}`);
  return (JSON.parse(line) as { error: { code: string; message: string } }).error;
}
const shown = (r: Run) => `exit ${r.code}\nstdout: ${r.stdout.slice(0, 1500)}\nstderr: ${r.stderr.replace(/^npm (warn|notice).*\n/gm, '').slice(0, 1500)}`;

describe('the MCP Inspector CLI against behalf', () => {
  before(async () => {
    // Fetches the Inspector and Node 22 once; the calls below then start in about a second.
    const version = await inspector(['--cli', '--version'], 180_000);
    assert.equal(version.code, 0, `the Inspector could not be fetched from the npm registry\n${shown(version)}`);
    assert.match(version.stdout, /^2\.12\.0/);
  });

  it('the README\'s lines, as written, get Alice a token and list her tools on Node 20 (exit 0); docs/mcp.md gives the same command', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const block = [...readme.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1]!).find((b) => b.includes('mcp-inspector --cli'));
    assert.ok(block, 'README.md has a sh block running mcp-inspector --cli');
    const command = block.replace(/\s*\\\n\s*/g, ' ');
    // The same Inspector this file runs, at the demo's fixed ports (`npm start`).
    assert.ok(command.includes(`npx ${INSPECTOR.join(' ')} --cli http://127.0.0.1:8080/mcp `), command);
    assert.ok(command.includes('http://127.0.0.1:9400/token'), command);
    const mcpDoc = await readFile(new URL('../../docs/mcp.md', import.meta.url), 'utf8');
    const inspectorLine = command.split('\n').find((l) => l.startsWith('npx '))!;
    assert.ok(mcpDoc.includes(inspectorLine.trim()), `docs/mcp.md gives the README's command:\n${inspectorLine}`);

    const script = block.replaceAll('http://127.0.0.1:8080', demo.gatewayUrl).replaceAll('http://127.0.0.1:9400', demo.idp.url);
    const r = await run('sh', ['-c', `set -e\n${script}`], 60_000);
    assert.equal(r.code, 0, shown(r));
    const tools = (JSON.parse(r.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name).sort();
    assert.deepEqual(tools, ['add_review', 'get_reviews', 'list_my_visible_reviews']);
  });

  it('lists the tools Alice may use with her token (exit 0)', async () => {
    const r = await inspector(cli('--header', await bearer('alice'), '--method', 'tools/list'));
    assert.equal(r.code, 0, shown(r));
    const tools = (JSON.parse(r.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name).sort();
    assert.deepEqual(tools, ['add_review', 'get_reviews', 'list_my_visible_reviews']);
  });

  it('calls get_reviews for her report Bob (exit 0), and the backend answered for Alice', async () => {
    const r = await inspector(cli('--header', await bearer('alice'), '--method', 'tools/call', '--tool-name', 'get_reviews', '--tool-arg', 'employee=bob'));
    assert.equal(r.code, 0, shown(r));
    const result = JSON.parse(r.stdout) as { isError?: boolean; structuredContent?: { caller?: string; reviews?: { employee: string }[] } };
    assert.notEqual(result.isError, true);
    assert.equal(result.structuredContent?.caller, 'alice');
    assert.deepEqual(result.structuredContent?.reviews?.map((x) => x.employee), ['bob']);
  });

  it('the same call as Mallory is refused by policy (exit 1, the reason shown)', async () => {
    const r = await inspector(cli('--header', await bearer('mallory'), '--method', 'tools/call', '--tool-name', 'get_reviews', '--tool-arg', 'employee=bob'));
    assert.equal(r.code, 1, shown(r));
    assert.match(errorOf(r).message, /forbidden \(denied-by-rule\)/);
    assert.doesNotMatch(r.stdout + r.stderr, /billing migration/);
  });

  it('without a token: exit 3 (auth_required), with behalf\'s 401 in the CI form --stored-auth-only', async () => {
    const ci = await inspector(cli('--stored-auth-only', '--method', 'tools/list'));
    assert.equal(ci.code, 3, shown(ci));
    const error = errorOf(ci);
    assert.equal(error.code, 'auth_required');
    assert.match(error.message, /-31401/);
    assert.match(error.message, /token-missing/);

    // Without the flag it would start an interactive OAuth sign-in, which needs a terminal.
    const plain = await inspector(cli('--method', 'tools/list'));
    assert.equal(plain.code, 3, shown(plain));
    assert.equal(errorOf(plain).code, 'auth_required');
  });

  it('a token for the gateway root instead of <gateway>/mcp is refused too (exit 3)', async () => {
    const rootToken = `Authorization: Bearer ${await demo.idp.mint('alice', { audience: demo.gatewayUrl })}`;
    const r = await inspector(cli('--header', rootToken, '--stored-auth-only', '--method', 'tools/list'));
    assert.equal(r.code, 3, shown(r));
    assert.equal(errorOf(r).code, 'auth_required');
    assert.match(errorOf(r).message, /invalid_token|-31401/);
  });
});
