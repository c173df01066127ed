// The loop every microbenchmark here uses: warm `fn` up, then time it in rounds of ~`ms` and
// print the best round's nanoseconds per call (the least disturbed by other processes on a shared
// machine) with the median beside it.
//   import { measure, rootArg } from './measure.js';

/** Sink for results, so V8 cannot drop the work as dead code. */
export let sink: unknown;

/** ns per call of `fn`: best and median of `rounds` rounds of about `ms` each. */
export function measure(name: string, fn: () => unknown, opts: { ms?: number; rounds?: number } = {}): number {
  const ms = opts.ms ?? 1000;
  const rounds = opts.rounds ?? 5;
  let n = 1;
  // Warm-up, and find a batch size that takes ~10 ms.
  for (;;) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink = fn();
    const took = Number(process.hrtime.bigint() - t) / 1e6;
    if (took > 10) break;
    n *= 2;
  }
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < ms * 1e6) {
      for (let i = 0; i < n; i++) sink = fn();
      calls += n;
      elapsed = Number(process.hrtime.bigint() - start);
    }
    results.push(elapsed / calls);
  }
  results.sort((a, b) => a - b);
  const best = results[0]!;
  const median = results[Math.floor(results.length / 2)]!;
  console.log(`${name.padEnd(48)} ${best.toFixed(1).padStart(9)} ns/op  (median ${median.toFixed(1)})`);
  return best;
}

/** The source tree to load the code under test from: `--root <dir>` (a worktree), default this one. */
export function rootArg(): string {
  const i = process.argv.indexOf('--root');
  return i === -1 ? new URL('../..', import.meta.url).pathname : process.argv[i + 1]!;
}
