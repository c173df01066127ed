/**
 * The first hour, as the README tells it, in a fresh copy of the repository (its tracked files, as
 * a clone has them): `npm install`, `npm start`, every command `npm start` prints, `npm run demo`
 * through that stack, and the README's block of CLI commands for the demo's config, policy tests
 * and trail. Each runs as printed, in a shell with nothing but PATH and HOME; any that fails, fails
 * the test. Needs ports 8080, 9400 and 9401 free (the demo's fixed ports).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { tryItCommands } from '../../examples/hr-demo/welcome.js';
import { REPO_DIR } from '../cli/helpers.js';

const run = promisify(execFile);
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir() };

let dir: string;
let start: ChildProcess | undefined;
let startOutput = '';

/** Runs `script` in bash in the copy; resolves with its exit code and output, never rejects. */
async function sh(script: string, timeoutMs = 120_000): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('bash', ['-c', script], { cwd: dir, env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** True when nothing listens on `port` (the demo's ports are fixed). */
function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** The lines of the README's first `sh` block that follows `marker`. */
function readmeBlock(readme: string, marker: string): string[] {
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README: no "${marker}"`);
  const open = readme.indexOf('```sh\n', at);
  const close = readme.indexOf('```', open + 6);
  return readme.slice(open + 6, close).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

before(async () => {
  for (const port of [8080, 9400, 9401]) assert.ok(await free(port), `port ${port} is in use: stop what runs there (an npm start?) and run again`);
  dir = await mkdtemp(join(tmpdir(), 'behalf-first-hour-'));
  // A clone's files: what git tracks, as they are in the working tree.
  const { stdout } = await run('git', ['ls-files', '-z'], { cwd: REPO_DIR, maxBuffer: 16 * 1024 * 1024 });
  for (const file of stdout.split('\0').filter((f) => f !== '')) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await copyFile(join(REPO_DIR, file), join(dir, file)).catch(() => undefined); // a tracked file deleted in the tree
  }
});

/** Ctrl-C as a terminal sends it: SIGINT to the whole process group (npm and the demo under it). */
function interrupt(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  try {
    process.kill(-child.pid!, 'SIGINT');
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 10_000);
  return exited.finally(() => clearTimeout(timer));
}

after(async () => {
  if (start !== undefined && start.exitCode === null && start.signalCode === null) await interrupt(start);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the first hour, from the README, in a fresh copy', () => {
  it('npm install succeeds (and builds dist/)', async () => {
    const r = await sh('npm install --no-audit --no-fund --prefer-offline', 600_000);
    assert.equal(r.code, 0, r.out.slice(-2_000));
    const built = await sh('test -f dist/cli/main.js');
    assert.equal(built.code, 0, 'npm install did not build dist/');
  });

  it('npm start runs the demo and prints how to try it', async () => {
    // A process group of its own, as in a terminal, so Ctrl-C reaches the demo under npm.
    start = spawn('npm', ['start'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    start.stdout!.on('data', (c: Buffer) => (startOutput += c.toString()));
    start.stderr!.on('data', (c: Buffer) => (startOutput += c.toString()));
    const deadline = Date.now() + 60_000;
    while (!startOutput.includes('Press Ctrl-C to stop.') && start.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(startOutput, /Press Ctrl-C to stop\./, startOutput.slice(-2_000));
  });

  it('every command npm start prints works as printed', async () => {
    const commands = tryItCommands(startOutput).filter((c) => c !== 'npm run demo');
    assert.ok(commands.length >= 7, startOutput);
    // One shell, in order, as a person pastes them (TOKEN carries over); the exit code after each.
    const script = commands.map((c, i) => `${c}\necho "<<$?:${i}>>"`).join('\n');
    const r = await sh(script);
    for (let i = 0; i < commands.length; i++) {
      const code = new RegExp(`<<(\\d+):${i}>>`).exec(r.out)?.[1];
      assert.equal(code, '0', `"${commands[i]}" failed:\n${r.out.slice(-3_000)}`);
    }
    assert.match(r.out, /"error":"no-matching-rule"|forbidden/i, 'the 403 line');
  });

  it('npm run demo runs through the npm start stack', async () => {
    const r = await sh('npm run demo', 180_000);
    assert.equal(r.code, 0, r.out.slice(-3_000));
    assert.match(r.out.split('\n').slice(0, 8).join('\n'), /npm start/i, 'its first lines say which stack it uses');
    assert.match(r.out, /audit trail OK/);
  });

  it("the README's CLI block for the demo's config, policy tests and trail works as written", async () => {
    const lines = readmeBlock(await readFile(join(dir, 'README.md'), 'utf8'), "The demo's config, policy tests and trail");
    assert.ok(lines.length >= 4, lines.join('\n'));
    for (const line of lines) {
      const r = await sh(line);
      assert.equal(r.code, 0, `"${line}" failed:\n${r.out.slice(-2_000)}`);
    }
    const tested = await sh(lines.find((l) => l.includes('policy test'))!);
    assert.match(tested.out, /\d+ passed, 0 failed/);
    const denied = await sh(lines.find((l) => l.includes('audit query'))!);
    assert.match(denied.out, /deny/, 'the demo left denials in the trail');
  });

  it('npm start stops on Ctrl-C, and the demo with it (its ports are free again)', async () => {
    await interrupt(start!);
    // npm itself ends by the signal (as in a terminal); the demo under it closes its servers.
    const deadline = Date.now() + 10_000;
    let freed = false;
    while (!freed && Date.now() < deadline) {
      freed = (await Promise.all([8080, 9400, 9401].map(free))).every(Boolean);
      if (!freed) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(freed, `the demo still holds its ports after Ctrl-C: ${startOutput.slice(-1_000)}`);
  });
});
