// The import graph of src/: every relative import (type-only ones too: a type import is still a
// dependency a reader follows). Prints the cycles and the layer violations; exits 1 if any.
// Used by test/architecture.test.ts; run it alone with `node scripts/import-graph.mjs`.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** file (relative to src/) -> the files it imports (relative to src/). */
export function importGraph() {
  const graph = new Map();
  for (const file of walk(root)) {
    const text = readFileSync(file, 'utf8');
    const deps = new Set();
    for (const [, spec] of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
      deps.add(relative(root, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
    }
    for (const [, spec] of text.matchAll(/import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) {
      deps.add(relative(root, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(root, file), [...deps].sort());
  }
  return graph;
}

/** Strongly connected components of more than one file (Tarjan), each sorted. */
export function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** The stage folders: door-neutral, they may not import a door. */
export const STAGE_FOLDERS = ['pipeline', 'authenticate', 'resolve', 'screen', 'authorize', 'approve', 'limit', 'forward', 'audit', 'lib'];

/** Imports from a stage folder (or pipeline/, lib/) into doors/. */
export function doorImports(graph) {
  const bad = [];
  for (const [file, deps] of graph) {
    if (!STAGE_FOLDERS.includes(file.split('/')[0])) continue;
    for (const d of deps) if (d.startsWith('doors/')) bad.push(`${file} -> ${d}`);
  }
  return bad;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const graph = importGraph();
  const found = cycles(graph);
  const bad = doorImports(graph);
  for (const c of found) console.log(`cycle (${c.length} files): ${c.join(' ')}`);
  for (const b of bad) console.log(`stage imports a door: ${b}`);
  console.log(`${graph.size} files, ${found.length} cycles, ${bad.length} stage-to-door imports`);
  process.exit(found.length + bad.length === 0 ? 0 : 1);
}
