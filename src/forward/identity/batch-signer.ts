import { performance } from 'node:perf_hooks';
import { ASSERTION_TYPE, type AssertionAlgorithm, type AssertionClaims } from './assertion-claims.js';
import { BATCH_ROOT_TYPE, formatBatchedAssertion, type BatchRootClaims } from './batch-format.js';
import { buildTree, leafHash } from './merkle-tree.js';
import type { SigningKeys } from './signing-keys.js';

/** How assertions are gathered into batches (`signing.batch`). */
export interface BatchOptions {
  /**
   * Longest time the first assertion of a batch waits for others, µs. A batch is signed at the
   * end of the event-loop turn in which it opened, or sooner when a request joins it this long
   * after it opened. Default 500.
   */
  readonly maxWaitMicroseconds: number;
  /** Most assertions in one batch; a full batch is signed at once. Default 256. */
  readonly maxLeaves: number;
}

/** Counts, for metrics and the benchmark. */
export interface BatchStats {
  /** Signatures made for batches, including batches of one. */
  readonly batches: number;
  /** Assertions delivered through batches. */
  readonly assertions: number;
}

/** Gathers assertion claims and signs each gathered set once. */
export interface BatchSigner {
  /**
   * Adds one assertion to the open batch. `build` makes its claims when the batch is signed, given
   * the batch's `iat` (epoch seconds). Resolves the header value: the batched form, or an ordinary
   * JWT when the batch held only this one; rejects when its claims or the signature fail.
   */
  add(build: (iat: number) => AssertionClaims): Promise<string>;
  /** Counts so far. */
  stats(): BatchStats;
}

interface Waiting {
  readonly build: (iat: number) => AssertionClaims;
  readonly resolve: (value: string) => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * Creates the batch signer: every assertion added in one event-loop turn (bounded by
 * `maxWaitMicroseconds` and `maxLeaves`) is signed with one signature over the Merkle root of
 * the turn's claims. A batch of one is signed as an ordinary assertion, so a quiet gateway sends
 * exactly what it sends without batching. `sign` signs a compact JWS (`signCompact`); `now` is
 * the clock in epoch milliseconds.
 *
 * The claims are built when the batch is signed (all with the same `iat`, that of the signature),
 * each with its own random `jti`, which salts its leaf: a proof's sibling hashes reveal nothing
 * that can be brute-forced about other requests.
 *
 * This does NOT hold a batch across an event-loop turn: a request never waits for traffic that
 * has not arrived. It does NOT separate requests by backend: one batch may hold leaves for many
 * audiences; each leaf names its own `aud`, and a backend sees only its own leaf and hashes.
 */
export function createBatchSigner(
  keys: SigningKeys,
  sign: (alg: AssertionAlgorithm, kid: string, key: CryptoKey, typ: string, claims: object) => string,
  opts: BatchOptions & { issuer: string; now: () => number },
): BatchSigner {
  let waiting: Waiting[] = [];
  let openedAt = 0;
  let scheduled = false;
  let batches = 0;
  let assertions = 0;

  const flush = (): void => {
    const taken = waiting;
    if (taken.length === 0) return;
    waiting = [];
    let iat: number;
    let signer: { kid: string; key: CryptoKey };
    try {
      iat = Math.floor(opts.now() / 1_000);
      signer = keys.current();
    } catch (err) {
      for (const w of taken) w.reject(err);
      return;
    }
    // Claims are built one by one: a request whose claims cannot be built fails alone, never its batch-mates.
    const batch: { w: Waiting; claims: AssertionClaims }[] = [];
    for (const w of taken) {
      try {
        batch.push({ w, claims: w.build(iat) });
      } catch (err) {
        w.reject(err);
      }
    }
    if (batch.length === 0) return;
    batches += 1;
    assertions += batch.length;
    try {
      if (batch.length === 1) {
        const [only] = batch as [{ w: Waiting; claims: AssertionClaims }];
        only.w.resolve(sign(keys.alg, signer.kid, signer.key, ASSERTION_TYPE, only.claims));
        return;
      }
      const leaves: string[] = [];
      const hashes: Buffer[] = [];
      let exp = iat;
      for (const { claims } of batch) {
        if (claims.exp > exp) exp = claims.exp;
        const bytes = Buffer.from(JSON.stringify(claims));
        leaves.push(bytes.toString('base64url'));
        hashes.push(leafHash(bytes));
      }
      const tree = buildTree(hashes);
      const rootClaims: BatchRootClaims = { iss: opts.issuer, iat, exp, root: tree.root.toString('base64url'), size: tree.size };
      const signedRoot = sign(keys.alg, signer.kid, signer.key, BATCH_ROOT_TYPE, rootClaims);
      for (let i = 0; i < batch.length; i++) {
        (batch[i] as { w: Waiting }).w.resolve(formatBatchedAssertion(signedRoot, leaves[i] as string, i, tree.proof(i)));
      }
    } catch (err) {
      for (const { w } of batch) w.reject(err);
    }
  };

  const onTurnEnd = (): void => {
    scheduled = false;
    flush();
  };

  return {
    add(build) {
      return new Promise<string>((resolve, reject) => {
        waiting.push({ build, resolve, reject });
        if (waiting.length === 1) openedAt = performance.now();
        if (!scheduled) {
          scheduled = true;
          setImmediate(onTurnEnd);
        }
        if (waiting.length >= opts.maxLeaves || (waiting.length > 1 && (performance.now() - openedAt) * 1_000 >= opts.maxWaitMicroseconds)) flush();
      });
    },
    stats: () => ({ batches, assertions }),
  };
}
