// Runs test/**/*.test.ts with node's test runner (Node 20 has no glob support in --test).
//
//   node scripts/run-tests.mjs                  every test: the fast group, then the slow group (npm test)
//   node scripts/run-tests.mjs --fast           all but test/slow/ (npm run test:fast): unit, contract, in-process e2e
//   node scripts/run-tests.mjs --slow           test/slow/ only (npm run test:slow): child processes for seconds
//   node scripts/run-tests.mjs test/forward     these files or folders (with --fast or --slow: that group of them)
//
// The slow group is every test that runs processes for seconds (behalf serve, SIGKILL, two
// instances, the MCP Inspector and conformance suite, building and packing the package): a
// folder of its own, so that a test's group is where it lives, not a list kept here. Its files
// run one at a time: each starts processes that must come up within a deadline, and two of them
// at once (a build next to a gateway's start, on two cores) make each other miss it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const SLOW_DIR = join('test', 'slow') + sep;

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => e.name !== 'node_modules')
    .flatMap((e) => collect(join(path, e.name)))
    .sort();
}

const isSlow = (file) => relative(ROOT, resolve(file)).startsWith(SLOW_DIR);
const args = process.argv.slice(2);
const only = args.includes('--slow') ? 'slow' : args.includes('--fast') ? 'fast' : undefined;
const roots = args.filter((a) => a !== '--fast' && a !== '--slow');
const files = (roots.length > 0 ? roots : ['test']).flatMap(collect);
const groups = [
  { name: 'fast', files: files.filter((f) => !isSlow(f)), concurrency: 2 },
  { name: 'slow', files: files.filter(isSlow), concurrency: 1 },
].filter((g) => g.files.length > 0 && (only === undefined || g.name === only));
if (groups.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const tapDir = mkdtempSync(join(tmpdir(), 'behalf-tests-'));
const totals = { pass: 0, fail: 0, skipped: 0 };
const timings = [];
let status = 0;
let summarised = true;
for (const group of groups) {
  const tapFile = join(tapDir, `${group.name}.tap`);
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [
      '--conditions=behalf-source', '--import', 'tsx', '--test', `--test-concurrency=${group.concurrency}`,
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
      ...group.files,
    ],
    { stdio: 'inherit' },
  );
  timings.push(`${group.name}: ${group.files.length} files in ${Math.round((Date.now() - started) / 1000)} s`);
  if (result.status !== 0) status = result.status ?? 1;
  try {
    const tap = readFileSync(tapFile, 'utf8');
    const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
    totals.pass += count('pass');
    totals.fail += count('fail') + count('cancelled');
    totals.skipped += count('skipped') + count('todo');
  } catch {
    summarised = false;
  }
}
rmSync(tapDir, { recursive: true, force: true });
console.log(`\n${timings.join('; ')}`);
// The summary line in the plain form any CI reads: "N passed, N failed, N skipped". Printed once, last.
console.log(summarised ? `tests: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped` : 'tests: no summary (the test runner did not finish)');
process.exit(status);
