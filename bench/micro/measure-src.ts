// The shared loop of the microbenchmarks in this folder: run a function for about a second after
// a warm-up, print nanoseconds per call. `--root <dir>` loads the code under test from another
// checkout (`<dir>/src/...`, say a worktree of the commit before a change), so one script
// measures before and after; `--ms N` sets the measuring time per case (default 1000).
import { isAbsolute, join, resolve } from 'node:path';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

/** The checkout whose `src/` is measured: `--root`, else this one. */
export const ROOT = (() => {
  const r = flag('root');
  if (r === undefined) return join(here, '..', '..');
  return isAbsolute(r) ? r : resolve(r);
})();

const MS = Number(flag('ms') ?? 1000);

/** Imports `src/<path>` (a `.ts` file name) from {@link ROOT}. */
export function load<T>(path: string): Promise<T> {
  return import(pathToFileURL(join(ROOT, 'src', path)).href) as Promise<T>;
}

/** Calls `fn` in batches for about `--ms` ms (after a warm-up of a quarter of that); returns ns per call. */
export async function measure(label: string, fn: () => unknown, opts: { batch?: number; async?: boolean } = {}): Promise<number> {
  const batch = opts.batch ?? 1_000;
  const run = async (ms: number) => {
    let calls = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(ms) * 1_000_000n;
    let now = start;
    while (now < end) {
      if (opts.async === true) for (let i = 0; i < batch; i++) await fn();
      else for (let i = 0; i < batch; i++) fn();
      calls += batch;
      now = process.hrtime.bigint();
    }
    return Number(now - start) / calls;
  };
  await run(MS / 4);
  const ns = await run(MS);
  console.log(`${label.padEnd(48)} ${ns.toFixed(0).padStart(7)} ns/op`);
  return ns;
}
