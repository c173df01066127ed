import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { STAGES } from '../src/pipeline/stages.js';
// @ts-expect-error: a plain ES module script, without types
import { cycles, doorImports, importGraph } from '../scripts/import-graph.mjs';

const src = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/**
 * The tree is the pipeline (shared/style.md, docs/pipeline.md): these checks fail on the change
 * that breaks it, not months later.
 */
describe('architecture', () => {
  const graph = importGraph() as Map<string, string[]>;

  it('has no import cycle anywhere in src/ (type-only imports count)', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('keeps the stages door-neutral: no file of pipeline/, lib/ or a stage folder imports doors/', () => {
    assert.deepEqual(doorImports(graph), []);
    // The checker itself sees such an import.
    assert.deepEqual(doorImports(new Map([['forward/x.ts', ['doors/mcp/context.ts']]])), ['forward/x.ts -> doors/mcp/context.ts']);
  });

  it('writes the stage order once, in the order of the design', () => {
    assert.deepEqual(
      STAGES.map(([name]) => name),
      ['authenticate', 'resolve', 'screen-in', 'authorize', 'approve', 'limit', 'forward', 'screen-out'],
    );
    const importers = [...graph].filter(([, deps]) => deps.includes('pipeline/stages.ts')).map(([file]) => file);
    assert.deepEqual(importers, ['pipeline/run.ts'], 'only the runner reads the stage list');
    for (const file of files(src)) {
      const text = readFileSync(file, 'utf8');
      assert.ok(!/_STAGES\b/.test(text), `${relative(src, file)} defines its own stage list`);
    }
  });

  it('has one stage file per stage folder and no per-door stage files', () => {
    const names = files(src).map((f) => relative(src, f));
    assert.deepEqual(names.filter((n) => n.endsWith('mcp-stage.ts')), []);
    for (const folder of ['authenticate', 'resolve', 'screen', 'authorize', 'approve', 'limit', 'forward']) {
      assert.ok(names.includes(`${folder}/stage.ts`), `${folder}/stage.ts`);
    }
  });

  it('runs both doors through the one runner', () => {
    const runners = [...graph].filter(([, deps]) => deps.includes('pipeline/run.ts')).map(([file]) => file).sort();
    assert.deepEqual(runners, ['doors/http/door.ts', 'doors/mcp/door.ts']);
  });

  it('finds a cycle when there is one', () => {
    assert.deepEqual(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']], ['c.ts', ['a.ts']]])), [['a.ts', 'b.ts']]);
  });
});
