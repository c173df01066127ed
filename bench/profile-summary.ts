// Summarises a V8 CPU profile (`--cpu-prof`, as written under BEHALF_BENCH_PROFILE): where the
// process spent its samples, by function (self time) and by package or source area, plus the
// inclusive time of functions whose name matches a pattern.
//   node --import tsx bench/profile-summary.ts <file.cpuprofile> [--top N] [--inclusive regex]
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: profile-summary <file.cpuprofile> [--top N] [--inclusive regex]');
const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
};
const top = Number(flag('top') ?? 25);
const inclusive = flag('inclusive');

const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** A source area: the npm package, `behalf:<folder>`, `node:<module>`, or the V8 pseudo-frame. */
function area(url: string, name: string): string {
  if (url === '') return `(${name || 'native'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(?:dist|src)\/(.+)\/[^/]+$/.exec(url);
  if (own) return `behalf:${own[1]}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/deps\/([^/]+).*/, 'node:$1').replace(/^node:internal\/([^/]+).*/, 'node:$1');
  return url.split('/').slice(-2).join('/');
}

const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
};

const fnSelf = new Map<string, number>();
const areaSelf = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src)\//, '$1/')}:${lineNumber + 1}`;
  fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
  const a = area(url, functionName);
  areaSelf.set(a, (areaSelf.get(a) ?? 0) + us);
}
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
print('self time by area', areaSelf);
print('self time by function', fnSelf);

if (inclusive !== undefined) {
  // Inclusive time of matching frames, counted once per sample even when recursive.
  const re = new RegExp(inclusive);
  const incl = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const { functionName, url, lineNumber } = byId.get(n)!.callFrame;
      const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src)\//, '$1/')}:${lineNumber + 1}`;
      if (re.test(key) && !seen.has(key)) {
        seen.add(key);
        incl.set(key, (incl.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
      }
    }
  });
  print(`inclusive time of /${inclusive}/`, incl);
}
