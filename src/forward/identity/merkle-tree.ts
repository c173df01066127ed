import { hash } from 'node:crypto';

/**
 * The Merkle tree of a batched assertion (docs/batched-assertions.md): the tree of RFC 6962 §2.1
 * (RFC 9162 §2.1.1) with SHA-256 and its domain separation, so a leaf can never be taken for an
 * inner node or the reverse:
 *
 *     leaf hash  = SHA-256(0x00 || leaf bytes)
 *     node hash  = SHA-256(0x01 || left hash || right hash)
 *
 * A tree of n > 1 leaves is split at k, the largest power of two smaller than n: the left subtree
 * holds leaves [0, k), the right one [k, n). Inclusion proofs and their verification follow
 * RFC 9162 §2.1.3. This file imports nothing of the gateway: `behalf/backend` ships it.
 */

/** Bytes of one hash (SHA-256). */
export const HASH_BYTES = 32;

/** 0x01 || left || right, refilled for each inner node (one thread: no two calls overlap). */
const nodeInput = Buffer.alloc(1 + 2 * HASH_BYTES);
nodeInput[0] = 0x01;
/** 0x00 || leaf, refilled for each leaf; grown when a leaf is longer. */
let leafInput = Buffer.alloc(1_024);

// One-shot `crypto.hash` costs a third of a `createHash` object per call on Node 20; its binary
// (latin1) string output is the cheapest way back to bytes ('buffer' output is slower there).
const sha256 = (data: Uint8Array): Buffer => Buffer.from(hash('sha256', data, 'binary'), 'latin1');

/** The hash of one leaf: SHA-256 over 0x00 and the leaf's bytes. */
export function leafHash(leaf: Uint8Array): Buffer {
  if (leafInput.length < leaf.length + 1) leafInput = Buffer.alloc(2 * (leaf.length + 1));
  leafInput[0] = 0x00;
  leafInput.set(leaf, 1);
  return sha256(leafInput.subarray(0, leaf.length + 1));
}

/** The hash of an inner node: SHA-256 over 0x01, the left child's hash and the right child's (32 bytes each). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) throw new RangeError('an inner node joins two 32-byte hashes');
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_BYTES);
  return sha256(nodeInput);
}

/** A built tree: its root and an inclusion proof per leaf. */
export interface MerkleTree {
  /** The root hash (for one leaf: that leaf's hash). */
  readonly root: Buffer;
  /** Number of leaves. */
  readonly size: number;
  /** The inclusion proof (audit path, RFC 9162 §2.1.3.1) of leaf `index`: sibling hashes from the leaf up. */
  proof(index: number): Buffer[];
}

/** Largest power of two strictly smaller than `n` (n >= 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Builds the tree over `leaves` (their leaf hashes, in order; at least one). The work is n - 1
 * node hashes; each proof is then read off the kept levels with no hashing.
 */
export function buildTree(leaves: readonly Buffer[]): MerkleTree {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf');
  // subtree hashes by [start, end), filled bottom-up by the recursion
  const memo = new Map<number, Buffer>();
  const key = (start: number, end: number): number => start * 65_536 + end;
  const hashOf = (start: number, end: number): Buffer => {
    if (end - start === 1) return leaves[start] as Buffer;
    const cached = memo.get(key(start, end));
    if (cached !== undefined) return cached;
    const k = split(end - start);
    const made = nodeHash(hashOf(start, start + k), hashOf(start + k, end));
    memo.set(key(start, end), made);
    return made;
  };
  const size = leaves.length;
  if (size > 65_535) throw new RangeError('a batch holds at most 65 535 leaves');
  const root = hashOf(0, size);
  return {
    root,
    size,
    proof(index) {
      if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`no leaf ${index} in a tree of ${size}`);
      const path: Buffer[] = [];
      let start = 0;
      let end = size;
      // Walk down from the root, keeping the sibling subtree at each level; the proof lists them leaf first.
      while (end - start > 1) {
        const k = split(end - start);
        if (index < start + k) {
          path.push(hashOf(start + k, end));
          end = start + k;
        } else {
          path.push(hashOf(start, start + k));
          start += k;
        }
      }
      return path.reverse();
    },
  };
}

/**
 * The root that leaf hash `leaf` at `index` of a tree of `size` leaves leads to through `path`
 * (RFC 9162 §2.1.3.2), or `undefined` when the proof cannot belong to such a tree (index out of
 * range, too few or too many hashes, a hash of the wrong length). The caller compares the result
 * with the signed root in constant time or not: roots are public, so a plain comparison is fine.
 *
 * This does NOT know the signed root: it only recomputes one.
 */
export function rootFromProof(leaf: Uint8Array, index: number, size: number, path: readonly Uint8Array[]): Buffer | undefined {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size || leaf.length !== HASH_BYTES) return undefined;
  let fn = index;
  let sn = size - 1;
  // The running hash stays a binary string written straight into the node input: no Buffer per level.
  let r = Buffer.from(leaf.buffer, leaf.byteOffset, HASH_BYTES).toString('latin1');
  for (const p of path) {
    if (p.length !== HASH_BYTES || sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      nodeInput.set(p, 1);
      nodeInput.write(r, 1 + HASH_BYTES, 'latin1');
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      nodeInput.write(r, 1, 'latin1');
      nodeInput.set(p, 1 + HASH_BYTES);
    }
    r = hash('sha256', nodeInput, 'binary');
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? Buffer.from(r, 'latin1') : undefined;
}
