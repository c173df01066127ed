import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';

/**
 * `behalf/backend` runs inside other people's services: it must not pull in the gateway (config,
 * pipeline, undici, pino, ...). Walk its import graph from src/backend/index.ts.
 */
describe('behalf/backend dependencies', () => {
  it('reaches only jose, node builtins, errors.ts, the assertion claims, the batch format, the Merkle tree and the digest primitives', async () => {
    const root = new URL('../../src/', import.meta.url);
    const allowedLocal = new Set(['errors.ts', 'forward/identity/assertion-claims.ts', 'forward/identity/batch-format.ts', 'forward/identity/merkle-tree.ts', 'lib/digest.ts']);
    const seen = new Set<string>();
    const external = new Set<string>();
    const queue = (await readdir(new URL('backend/', root))).filter((f) => f.endsWith('.ts')).map((f) => `backend/${f}`);
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = await readFile(new URL(file, root), 'utf8');
      for (const [, spec] of text.matchAll(/(?:from|import)\s+'([^']+)'/g)) {
        if (spec === undefined) continue;
        if (!spec.startsWith('.')) {
          external.add(spec);
          continue;
        }
        const target = new URL(spec.replace(/\.js$/, '.ts'), new URL(file, root)).pathname.slice(root.pathname.length);
        if (!target.startsWith('backend/')) assert.ok(allowedLocal.has(target), `${file} imports ${target}`);
        queue.push(target);
      }
    }
    for (const spec of external) assert.ok(spec === 'jose' || spec.startsWith('node:'), `unexpected dependency ${spec}`);
    assert.ok(seen.has('forward/identity/assertion-claims.ts'));
  });
});
