/** Runs the `behalf` CLI for tests: in-process through `main` with a captured `CliIo`, or as a real child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/program.js';

export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_ENTRY = join(REPO_DIR, 'src', 'cli', 'main.ts');
export const HR_DEMO_DIR = join(REPO_DIR, 'examples', 'hr-demo');

/** What a user of the CLI sees: the exit code and the two output streams (lines joined by `\n`). */
export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** `behalf <args>` in-process. `code` is the last exit code the command set (0 if none, as for a real process). */
export async function runCli(args: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const io: CliIo = {
    out: (line) => void out.push(line),
    err: (line) => void err.push(line),
    exit: (c) => {
      code = c;
    },
    env,
    cwd: REPO_DIR,
  };
  await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A fresh temp directory; `cleanup` removes every one made. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'behalf-cli-'));
  made.push(dir);
  return dir;
}
const made: string[] = [];
export async function cleanup(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Writes `text` to `name` in a new temp directory and returns the file's path. */
export async function writeTemp(name: string, text: string): Promise<string> {
  const file = join(await tempDir(), name);
  await writeFile(file, text);
  return file;
}

/** A running `node src/cli/main.ts <args>` with its output collected as it arrives. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code when the process ends; rejects if it is still running after `timeoutMs` (and kills it). */
  exited(timeoutMs: number): Promise<number | null>;
}

/** Starts the CLI as a real child process, the way a user runs it from a checkout. */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, ['--conditions=behalf-source', '--import', 'tsx', CLI_ENTRY, ...args], {
    cwd: REPO_DIR,
    // Only what node needs: a test must not depend on (or leak) the developer's environment.
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const done = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === null ? null : -1))));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: (timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`behalf ${args.join(' ')} still running after ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`));
        }, timeoutMs);
        void done.then((code) => {
          clearTimeout(timer);
          resolve(code);
        });
      }),
  };
}
