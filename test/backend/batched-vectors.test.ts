import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { JSONWebKeySet } from 'jose';
import { createVerifier, isBehalfError } from '../../src/backend/index.js';
import { buildTree, leafHash, rootFromProof } from '../../src/forward/identity/merkle-tree.js';

// The published test vectors of docs/batched-assertions.md, checked against behalf/backend: what
// a verifier in another language must accept and refuse. Regenerate with
// `node --import tsx scripts/batched-assertion-vectors.ts` (new key, new signatures).

interface Vectors {
  merkle: { leaves: string[]; root: string; proofs: { index: number; path: string[] }[] }[];
  assertions: {
    issuer: string;
    audience: string;
    now: number;
    clockToleranceSeconds: number;
    jwks: JSONWebKeySet;
    cases: { name: string; header: string; request: { method: string; url: string; body?: string }; expect: string; user?: string; now?: number }[];
  };
}

const vectors = JSON.parse(await readFile(new URL('../vectors/batched-assertion/vectors.json', import.meta.url), 'utf8')) as Vectors;

describe('batched assertion test vectors', () => {
  it('Merkle roots and proofs', () => {
    for (const tree of vectors.merkle) {
      const hashes = tree.leaves.map((l) => leafHash(Buffer.from(l)));
      const built = buildTree(hashes);
      assert.equal(built.root.toString('hex'), tree.root);
      for (const { index, path } of tree.proofs) {
        assert.deepEqual(built.proof(index).map((h) => h.toString('hex')), path);
        assert.equal(rootFromProof(hashes[index]!, index, tree.leaves.length, path.map((h) => Buffer.from(h, 'hex')))?.toString('hex'), tree.root);
      }
    }
  });

  const a = vectors.assertions;
  for (const c of a.cases) {
    it(`${c.name}: ${c.expect}`, async () => {
      const now = (c.now ?? a.now) * 1_000;
      const verifier = createVerifier({ issuer: a.issuer, audience: a.audience, keys: a.jwks, clockToleranceSeconds: a.clockToleranceSeconds, now: () => now });
      const result = verifier.verify({ method: c.request.method, url: c.request.url, headers: { 'x-behalf-assertion': c.header } }, c.request.body);
      if (c.expect === 'valid') {
        assert.equal((await result).user, c.user);
      } else {
        await assert.rejects(result, (err: unknown) => isBehalfError(err) && err.code === c.expect);
      }
    });
  }
});
