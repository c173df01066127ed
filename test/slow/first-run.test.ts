import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { launchDemo, type Demo } from '../../examples/hr-demo/launch.js';
import { cliCommand, tryItCommands, welcomeText } from '../../examples/hr-demo/welcome.js';
import { REPO_DIR } from '../cli/helpers.js';

/**
 * What `npm start` prints is run as printed, from the repository root, in a shell with nothing
 * but PATH and HOME: no variable of the demo's config is set, as for someone who just cloned.
 */

const run = promisify(execFile);

let demo: Demo;
let stateDir: string;
before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'behalf-first-run-'));
  demo = await launchDemo({ stateDir, logger: pino({ level: 'silent' }) });
});
after(async () => {
  await demo?.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe('npm start prints commands that work as printed', () => {
  it('every command of "Try it" runs from the repository root and does what its line says', async () => {
    const text = welcomeText(demo, REPO_DIR);
    const commands = tryItCommands(text);
    assert.ok(commands.length > 0, text);
    // `npm run demo` starts a second demo for a minute: it has its own test (test/e2e/hr-demo.test.ts).
    const runnable = commands.filter((c) => c !== 'npm run demo');
    assert.equal(runnable.length, commands.length - 1, text);
    assert.ok(runnable.length >= 7, text);
    // One shell, in order, as a person pastes them (TOKEN carries over); a marker after each.
    const script = runnable.map((c, i) => `${c}\necho "<<$?:${i}>>"`).join('\n');
    const { stdout, stderr } = await run('bash', ['-c', script], {
      cwd: REPO_DIR,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir() },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const outputs = stdout.split(/<<(\d+):\d+>>\n/);
    const results: { command: string; code: number; out: string }[] = [];
    for (let i = 0; i < runnable.length; i++) results.push({ command: runnable[i]!, out: outputs[2 * i]!, code: Number(outputs[2 * i + 1]) });
    const by = (prefix: RegExp) => {
      const r = results.find((x) => prefix.test(x.command));
      assert.ok(r, `no printed command matches ${prefix}: ${runnable.join('\n')}`);
      return r;
    };
    for (const r of results) assert.equal(r.code, 0, `${r.command}\nexited ${r.code}\n${r.out}\nstderr: ${stderr}`);

    const mine = JSON.parse(by(/\/api\/hr\/reviews -H/).out) as { reviews: { employee: string }[] };
    assert.deepEqual([...new Set(mine.reviews.map((x) => x.employee))].sort(), ['alice', 'bob', 'carol']);
    assert.match(by(/\/api\/hr\/reviews\/mallory/).out, /"denied-by-rule"|"forbidden"|403/);
    const tail = by(/ audit tail /).out.trim().split('\n');
    assert.ok(tail.length >= 2, by(/ audit tail /).out);
    assert.match(by(/ audit query .*--decision deny/).out, /mallory/);
    assert.match(by(/ audit verify /).out, /^audit trail OK: \d+ records/m);
    assert.match(by(/ policy test /).out, /^\d+ passed, 0 failed$/m);
    assert.doesNotMatch(stderr, /not set|Error|EPIPE/, stderr);
  });

  it('prints `npx behalf` only when dist/ is built from the current sources, else runs the sources', async () => {
    const repo = await mkdtemp(join(tmpdir(), 'behalf-clone-'));
    try {
      await mkdir(join(repo, 'src', 'cli'), { recursive: true });
      await writeFile(join(repo, 'src', 'cli', 'main.ts'), '');
      assert.equal(cliCommand(repo), 'npm run -s behalf --', 'not built');
      await mkdir(join(repo, 'dist', 'cli'), { recursive: true });
      await writeFile(join(repo, 'dist', 'cli', 'main.js'), '');
      const past = new Date(Date.now() - 60_000);
      await utimes(join(repo, 'src', 'cli', 'main.ts'), past, past);
      assert.equal(cliCommand(repo), 'npx behalf', 'built after the last change');
      await utimes(join(repo, 'src', 'cli', 'main.ts'), new Date(), new Date(Date.now() + 60_000));
      assert.equal(cliCommand(repo), 'npm run -s behalf --', 'a source changed since the build');
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });

  it('a token issued before a restart of the demo is still accepted after it (the dev IdP key is kept)', async () => {
    const token = await demo.idp.mint('alice', { scopes: ['reviews:read'] });
    const ports = { gateway: Number(new URL(demo.gatewayUrl).port), idp: Number(new URL(demo.idp.url).port), hr: 0 };
    await demo.close();
    demo = await launchDemo({ stateDir, ports, logger: pino({ level: 'silent' }) });
    const res = await fetch(`${demo.gatewayUrl}/api/hr/reviews/alice`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, await res.text());
  });
});
