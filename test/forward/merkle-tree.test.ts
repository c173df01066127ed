import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildTree, leafHash, nodeHash, rootFromProof } from '../../src/forward/identity/merkle-tree.js';

// The tree of RFC 6962 §2.1: its shape, its domain separation and RFC 9162's proof verification,
// checked against a direct transcription of the RFC's recursive definition.

const sha = (...parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();

/** MTH(D[n]) exactly as RFC 6962 §2.1 writes it. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return sha(Buffer.from([0]), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const data = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`leaf ${i}`));

describe('Merkle tree', () => {
  it('roots equal RFC 6962 MTH for every size from 1 to 40', () => {
    for (let n = 1; n <= 40; n++) {
      const leaves = data(n);
      assert.deepEqual(buildTree(leaves.map((l) => leafHash(l))).root, mth(leaves), `size ${n}`);
    }
  });

  // A proof alone does not always fix the tree size (leaf 0's proof in a tree of 3 is also one in a
  // tree of 4): that is why the size is part of the signed root, as in RFC 6962's signed tree head.
  it('every proof of every leaf leads to the root, and only with its own index', () => {
    for (let n = 1; n <= 33; n++) {
      const hashes = data(n).map((l) => leafHash(l));
      const tree = buildTree(hashes);
      for (let i = 0; i < n; i++) {
        const path = tree.proof(i);
        assert.ok(path.length <= Math.ceil(Math.log2(n)), `proof length at ${i}/${n}`);
        assert.deepEqual(rootFromProof(hashes[i]!, i, n, path), tree.root, `leaf ${i} of ${n}`);
        if (n > 1) {
          const other = rootFromProof(hashes[i]!, (i + 1) % n, n, path);
          assert.ok(other === undefined || !other.equals(tree.root), `leaf ${i} of ${n} under index ${(i + 1) % n}`);
        }
      }
    }
  });

  it('leaves and inner nodes can never be confused (domain separation)', () => {
    const a = leafHash(Buffer.from('a'));
    const b = leafHash(Buffer.from('b'));
    const inner = nodeHash(a, b);
    // The inner node's preimage presented as a leaf gives another hash.
    assert.notDeepEqual(leafHash(Buffer.concat([a, b])), inner);
    assert.notDeepEqual(leafHash(Buffer.from('a')), sha(Buffer.from('a')));
  });

  it('a proof with a hash of the wrong length, an index out of range or a missing hash gives no root', () => {
    const hashes = data(6).map((l) => leafHash(l));
    const tree = buildTree(hashes);
    const path = tree.proof(4);
    assert.equal(rootFromProof(hashes[4]!, 4, 6, [...path.slice(0, -1), path.at(-1)!.subarray(0, 31)]), undefined);
    assert.equal(rootFromProof(hashes[4]!, 6, 6, path), undefined);
    assert.equal(rootFromProof(hashes[4]!, -1, 6, path), undefined);
    assert.equal(rootFromProof(hashes[4]!, 4, 6, path.slice(0, -1)), undefined);
    assert.throws(() => buildTree([]), RangeError);
    assert.throws(() => tree.proof(6), RangeError);
  });
});
