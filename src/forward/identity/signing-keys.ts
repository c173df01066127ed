import { isAbsolute, resolve } from 'node:path';
import type { JWK } from 'jose';
import type { SigningConfig } from '../../config/schema.js';
import { BehalfError } from '../../errors.js';
import { generateKey, readKeyFile, writeKeyFile, type StoredKey } from './key-file.js';

const DAY_MS = 86_400_000;

/**
 * The gateway's assertion signing keys: one current private key, plus recently retired keys that
 * stay published so assertions signed just before a rotation still verify.
 */
export interface SigningKeys {
  /** The signature algorithm of every key (`signing.algorithm`, default ES256). */
  readonly alg: 'ES256' | 'EdDSA';
  /** The key to sign with now and its `kid` (RFC 7638 thumbprint). Cheap: no I/O, no crypto. */
  current(): { kid: string; key: CryptoKey };
  /**
   * The public JWK set served at `/.well-known/jwks.json`: the current key first, then every key
   * retired less than `overlapSeconds` ago. The same frozen object is returned until the set
   * changes, so callers may cache its serialisation by identity.
   */
  publicJwks(): { keys: JWK[] };
  /** Generates a new current key now, retires the old one and persists the file (operators' `rotate`). */
  rotate(): Promise<void>;
  /**
   * Housekeeping to call periodically (e.g. every minute): drops keys retired more than
   * `overlapSeconds` ago from the file, and rotates when the current key is older than
   * `rotateAfterDays` (> 0). Resolves `true` when it rotated.
   */
  maybeRotate(): Promise<boolean>;
}

/**
 * Loads the key file named by `cfg.keyFile` (relative to `opts.baseDir`), generating and
 * persisting a first key when the file is absent, then runs {@link SigningKeys.maybeRotate} once.
 * `opts.now` is the clock in epoch milliseconds (default `Date.now`).
 *
 * Throws `signing-key-invalid` naming the file when it cannot be read or written, is malformed,
 * or holds a key for another algorithm than `cfg.algorithm` (changing the algorithm needs a new
 * key file: an assertion verifier must not see both).
 *
 * This does NOT coordinate several gateway instances: each one rotates its own file. Instances
 * that share one key file (so backends see one JWKS) should use `rotateAfterDays: 0` and have one
 * operator run `rotate` and redistribute the file. It does NOT protect the file beyond creating it
 * with mode 0600 in a 0700 directory.
 *
 * After a rotation, backends learn the new `kid` from the JWKS on their first assertion signed
 * with it; a verifier that refetched its JWKS very recently may refuse such assertions until its
 * refetch cooldown (30 s in jose) has passed.
 */
export async function loadSigningKeys(cfg: Omit<SigningConfig, 'batch'>, opts: { baseDir: string; now?: () => number }): Promise<SigningKeys> {
  const now = opts.now ?? Date.now;
  const alg = cfg.algorithm;
  const file = isAbsolute(cfg.keyFile) ? cfg.keyFile : resolve(opts.baseDir, cfg.keyFile);
  const overlapMs = cfg.overlapSeconds * 1_000;
  const rotateAfterMs = cfg.rotateAfterDays * DAY_MS;

  let keys = await readKeyFile(file, alg);
  if (keys === undefined) {
    const first = [await generateKey(alg, now())];
    // Another instance may be creating the same file right now: the first one wins, all use it.
    keys = (await writeKeyFile(file, first, { create: true })) ? first : await readKeyFile(file, alg);
    if (keys === undefined) throw new BehalfError('signing-key-invalid', `signing key file ${file}: vanished while being created`);
  }

  let state = keys;
  let cur = currentOf(state);
  let jwks: { keys: JWK[] } = Object.freeze({ keys: [] });
  let jwksValidUntil = 0;

  /** Keys still worth publishing at `t`: the current one and those retired within the overlap. */
  const live = (list: readonly StoredKey[], t: number) => list.filter((k) => k.retiredAt === undefined || k.retiredAt + overlapMs > t);

  const rebuild = (t: number) => {
    const published = live(state, t).sort((a, b) => (a === cur ? -1 : b === cur ? 1 : b.createdAt - a.createdAt));
    jwks = Object.freeze({ keys: published.map((k) => Object.freeze({ ...k.publicJwk })) });
    const drops = published.filter((k) => k.retiredAt !== undefined).map((k) => (k.retiredAt as number) + overlapMs);
    jwksValidUntil = drops.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...drops);
  };

  /** Replaces the in-memory set only once the file holds it, so memory never runs ahead of disk. */
  const commit = async (next: StoredKey[], t: number) => {
    await writeKeyFile(file, next);
    state = next;
    cur = currentOf(state);
    rebuild(t);
  };

  // Rotations and prunes run one at a time: two overlapping rotate() calls must not both retire
  // the same key and persist diverging sets.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const run = queue.then(op, op);
    queue = run.catch(() => undefined);
    return run;
  };

  const doRotate = async (t: number) => {
    const fresh = await generateKey(alg, t);
    const retired = state.map((k) => (k.retiredAt === undefined ? { ...k, retiredAt: t } : k));
    await commit([fresh, ...live(retired, t)], t);
  };

  const doMaybeRotate = async (): Promise<boolean> => {
    const t = now();
    if (rotateAfterMs > 0 && t - cur.createdAt >= rotateAfterMs) {
      await doRotate(t);
      return true;
    }
    const kept = live(state, t);
    if (kept.length !== state.length) await commit(kept, t);
    return false;
  };

  rebuild(now());
  await doMaybeRotate();

  return {
    alg,
    current: () => ({ kid: cur.kid, key: cur.privateKey }),
    publicJwks: () => {
      const t = now();
      if (t >= jwksValidUntil) rebuild(t);
      return jwks;
    },
    rotate: () => serial(() => doRotate(now())),
    maybeRotate: () => serial(doMaybeRotate),
  };
}

function currentOf(keys: readonly StoredKey[]): StoredKey {
  const current = keys.find((k) => k.retiredAt === undefined);
  // readKeyFile guarantees exactly one; every set built here keeps exactly one.
  if (current === undefined) throw new BehalfError('internal', 'signing key set without a current key');
  return current;
}
