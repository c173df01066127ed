import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore, rec, tempDir, writeTrail } from '../audit/helpers.js';

// `behalf audit tail -f` in a child process of its own (the other audit commands are tested in
// process: test/audit/cli.test.ts): it follows the trail as a gateway appends to it.

test('audit tail -f keeps printing records the gateway writes, until interrupted', { timeout: 20_000 }, async () => {
  const dir = join(await tempDir(), 'audit');
  await writeTrail(dir, 2);
  const entry = fileURLToPath(new URL('../../src/cli/commands/audit.ts', import.meta.url));
  const script = `import { Command } from 'commander'; import { registerAuditCommands } from ${JSON.stringify(entry)};
    const p = new Command('behalf'); registerAuditCommands(p, async () => { throw new Error('no config'); });
    await p.parseAsync(['audit', 'tail', '-f', '-n', '1', '--store', ${JSON.stringify(dir)}], { from: 'user' });`;
  const child = spawn(process.execPath, ['--conditions=behalf-source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  let stdout = '';
  let stderr = '';
  let exitCode: number | null | undefined;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    wake();
  });
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      wake();
      resolve(code);
    }),
  );
  const seen = async (pattern: RegExp) => {
    while (!pattern.test(stdout)) {
      if (exitCode !== undefined) assert.fail(`tail -f exited early (${exitCode}): ${stderr}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  await seen(/10:00:02/);
  const writer = await openStore(dir);
  await writer.append([rec(3), rec(4)]);
  await seen(/10:00:04/);
  await writer.close();
  child.kill('SIGINT');
  assert.equal(await exited, 0);
  const lines = stdout.trim().split('\n');
  assert.deepEqual(lines.map((l) => l.slice(0, 24)), ['2025-05-01T10:00:02.000Z', '2025-05-01T10:00:03.000Z', '2025-05-01T10:00:04.000Z']);
  assert.ok((await readFile(join(dir, 'head.json'), 'utf8')).includes('"seq":4'));
});
