import { HASH_BYTES } from './merkle-tree.js';

/**
 * The wire form of a batched assertion (docs/batched-assertions.md), shared by the gateway's
 * signer and `behalf/backend`'s verifier. This file imports nothing of the gateway.
 *
 * One header value, three parts joined by `~` (a character base64url and JWS never contain):
 *
 *     <signed root>~<leaf>~<index>.<path>
 *
 * - signed root: a compact JWS, header `{ alg, kid, typ: "behalf-batch+jwt" }`, payload
 *   {@link BatchRootClaims} (`iss`, `iat`, `exp`, `root`, `size`);
 * - leaf: base64url of the UTF-8 JSON of this request's assertion claims (the same claims as an
 *   ordinary assertion); the leaf hash is over exactly these bytes;
 * - index: the leaf's position in the tree, decimal without leading zeros;
 * - path: base64url of the concatenated 32-byte sibling hashes of the inclusion proof, leaf first
 *   (empty for a tree of one leaf, which the gateway never sends: a batch of one is signed as an
 *   ordinary assertion).
 */

/** JOSE `typ` of a batch root (RFC 8725 explicit typing): never valid where an assertion is expected, nor the reverse. */
export const BATCH_ROOT_TYPE = 'behalf-batch+jwt';

/** Separator of the three parts. */
export const BATCH_SEPARATOR = '~';

/** Most leaves one batch may hold: proofs stay at most 16 hashes (a verifier refuses larger). */
export const MAX_BATCH_LEAVES = 65_535;

/** Claims of a signed batch root. */
export interface BatchRootClaims {
  /** The gateway's `server.publicUrl`, as in every assertion. */
  iss: string;
  /** When the batch was signed, epoch seconds; every leaf's `iat` equals it. */
  iat: number;
  /** The latest `exp` of any leaf, epoch seconds; at most 60 s after `iat`. */
  exp: number;
  /** base64url of the 32-byte Merkle root. */
  root: string;
  /** Number of leaves in the tree (at least 2). */
  size: number;
}

/** The parts of a batched assertion header, decoded but not verified. */
export interface BatchedAssertionParts {
  /** The signed root, a compact JWS, as received. */
  readonly signedRoot: string;
  /** The leaf bytes: this request's claims as UTF-8 JSON. */
  readonly leaf: Buffer;
  /** The leaf's index. */
  readonly index: number;
  /** The inclusion proof, leaf first. */
  readonly path: Buffer[];
}

/** Joins a batched assertion header value. */
export function formatBatchedAssertion(signedRoot: string, leaf: string, index: number, path: readonly Buffer[]): string {
  return `${signedRoot}${BATCH_SEPARATOR}${leaf}${BATCH_SEPARATOR}${index}.${Buffer.concat(path).toString('base64url')}`;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether `text` (already known to hold only base64url characters) is the one encoding of its
 * bytes: no length that leaves a lone character, and the unused low bits of the last character
 * zero. Node's decoder accepts both and ignores them, so without this check many strings would
 * decode to the same bytes.
 */
function canonicalBase64url(text: string): boolean {
  const rest = text.length % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  const last = ALPHABET.indexOf(text[text.length - 1] as string);
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}
const INDEX = /^(?:0|[1-9][0-9]{0,4})$/;

/**
 * Splits a header value into its parts, or `undefined` when it is not exactly the form above
 * (wrong number of parts, characters outside base64url, an index with leading zeros or past
 * {@link MAX_BATCH_LEAVES}, a path that is not whole 32-byte hashes).
 *
 * This does NOT verify anything: not the signature, the proof, nor any claim.
 */
export function parseBatchedAssertion(value: string): BatchedAssertionParts | undefined {
  const parts = value.split(BATCH_SEPARATOR);
  if (parts.length !== 3) return undefined;
  const [signedRoot, leaf, proof] = parts as [string, string, string];
  const dot = proof.indexOf('.');
  if (dot < 0 || signedRoot === '' || leaf === '' || !BASE64URL.test(leaf)) return undefined;
  const indexText = proof.slice(0, dot);
  const pathText = proof.slice(dot + 1);
  if (!INDEX.test(indexText) || !BASE64URL.test(pathText)) return undefined;
  const index = Number(indexText);
  if (index >= MAX_BATCH_LEAVES) return undefined;
  if (!canonicalBase64url(pathText) || !canonicalBase64url(leaf)) return undefined;
  const pathBytes = Buffer.from(pathText, 'base64url');
  if (pathBytes.length % HASH_BYTES !== 0) return undefined;
  const path: Buffer[] = [];
  for (let at = 0; at < pathBytes.length; at += HASH_BYTES) path.push(pathBytes.subarray(at, at + HASH_BYTES));
  return { signedRoot, leaf: Buffer.from(leaf, 'base64url'), index, path };
}
