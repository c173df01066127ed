/**
 * The package as a user gets it: `npm run build`, `npm pack`, and the tarball unpacked into a
 * temp project's `node_modules/behalf`. behalf's dependencies are symlinked to the repo's
 * node_modules instead of installed, so the test needs no registry; node resolves a symlinked
 * package from its real path, so their own dependencies are found there too.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** What a child process did. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file args` in `cwd`, never rejecting: the caller asserts on the exit code and output. */
export function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, maxBuffer: 16 * 1_048_576, timeout: 180_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Environment of the node processes run as the user: no NODE_OPTIONS (a developer's `--conditions`
 * or loader must not make the packed package pass), nothing but what node needs.
 */
export const USER_ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir() };

/** `node --input-type=module -e <code>` in `cwd`, as the user would run it. */
export function runModule(cwd: string, code: string): Promise<Run> {
  return run(process.execPath, ['--input-type=module', '-e', code], cwd, USER_ENV);
}

/** The packed tarball and the paths it holds (`dist/index.js`, ...; without the `package/` prefix). */
export interface Packed {
  readonly tarball: string;
  readonly files: readonly string[];
}

/** `npm run build` in the repo, then `npm pack` into `dest`. Throws with npm's output when either fails. */
export async function buildAndPack(dest: string): Promise<Packed> {
  const build = await run('npm', ['run', 'build'], REPO_DIR);
  if (build.code !== 0) throw new Error(`npm run build failed (${build.code}):\n${build.stdout}\n${build.stderr}`);
  // The build just ran: --ignore-scripts keeps `prepare` from building a second time.
  const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], REPO_DIR);
  if (pack.code !== 0) throw new Error(`npm pack failed (${pack.code}):\n${pack.stderr}`);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  if (info === undefined) throw new Error(`npm pack said nothing:\n${pack.stdout}`);
  return { tarball: join(dest, info.filename), files: info.files.map((f) => f.path) };
}

/**
 * A user's project in `dir`: `package.json` (ESM), the tarball unpacked as `node_modules/behalf`,
 * and every dependency of the packed package.json (plus `extra`, e.g. `@types/node`) linked to the
 * repo's copy. Returns the packed package.json.
 */
export async function userProject(dir: string, tarball: string, extra: readonly string[] = []): Promise<Record<string, unknown>> {
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'behalf-user', private: true, type: 'module' }));
  const pkgDir = join(dir, 'node_modules', 'behalf');
  await mkdir(pkgDir, { recursive: true });
  const untar = await run('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components=1'], dir);
  if (untar.code !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  const pkg = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  const deps = Object.keys((pkg['dependencies'] ?? {}) as Record<string, string>);
  for (const name of [...deps, ...extra]) {
    const link = join(dir, 'node_modules', name);
    await mkdir(dirname(link), { recursive: true });
    await symlink(join(REPO_DIR, 'node_modules', name), link, 'dir');
  }
  return pkg;
}

/** A fresh temp directory. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
