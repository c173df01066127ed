import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { BehalfError } from '../../errors.js';
import type { AssertionAlgorithm } from './assertion-claims.js';

/**
 * The gateway's signing key file: a JSON object `{ "keys": [ <private JWK>, ... ] }` where each JWK
 * also carries `kid` (RFC 7638 SHA-256 thumbprint of its public part), `alg`, `use: "sig"`,
 * `createdAt` (ISO 8601) and, once superseded, `retiredAt` (ISO 8601). Exactly one key has no
 * `retiredAt`: the current signing key. Written atomically (temp file + rename) with mode 0600.
 */

/** One key from the file, imported and checked. Times are epoch milliseconds. */
export interface StoredKey {
  readonly kid: string;
  readonly alg: AssertionAlgorithm;
  readonly createdAt: number;
  readonly retiredAt?: number;
  readonly privateKey: CryptoKey;
  /** The public JWK as published: `kty`, `crv`, `x`, (`y`), `kid`, `alg`, `use`. */
  readonly publicJwk: JWK;
  /** The private JWK as stored, without the behalf timestamps. */
  readonly privateJwk: JWK;
}

const SHAPE: Record<AssertionAlgorithm, { kty: string; crv: string; members: readonly string[] }> = {
  ES256: { kty: 'EC', crv: 'P-256', members: ['x', 'y'] },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', members: ['x'] },
};

function invalid(file: string, why: string, cause?: unknown): BehalfError {
  // Never the key or the file's text: JSON.parse messages quote the input, so no cause for those.
  return new BehalfError('signing-key-invalid', `signing key file ${file}: ${why}`, cause === undefined ? undefined : { cause });
}

function publicPart(jwk: JWK, alg: AssertionAlgorithm): JWK {
  const shape = SHAPE[alg];
  const pub: JWK = { kty: shape.kty, crv: shape.crv };
  for (const m of shape.members) (pub as Record<string, unknown>)[m] = (jwk as Record<string, unknown>)[m];
  return pub;
}

/** Generates a new private key for `alg`, created at `now` (epoch ms). */
export async function generateKey(alg: AssertionAlgorithm, now: number): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const exported = await exportJWK(privateKey);
  const pub = publicPart(exported, alg);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  return {
    kid,
    alg,
    createdAt: now,
    privateKey,
    publicJwk: { ...pub, kid, alg, use: 'sig' },
    privateJwk: { ...exported, kid, alg, use: 'sig' },
  };
}

function parseTime(value: unknown, file: string, what: string): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw invalid(file, `${what} must be an ISO 8601 time`);
  return ms;
}

async function importKey(raw: unknown, index: number, alg: AssertionAlgorithm, file: string): Promise<StoredKey> {
  const where = `keys[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(file, `${where} is not an object`);
  const { createdAt, retiredAt, ...jwk } = raw as Record<string, unknown> & JWK;
  const shape = SHAPE[alg];
  if (jwk.alg !== alg) throw invalid(file, `${where} is for alg ${String(jwk.alg)}, signing.algorithm is ${alg}`);
  if (jwk.kty !== shape.kty || jwk.crv !== shape.crv) throw invalid(file, `${where} is not a ${shape.kty} ${shape.crv} key`);
  for (const m of [...shape.members, 'd']) {
    if (typeof (jwk as Record<string, unknown>)[m] !== 'string') throw invalid(file, `${where} lacks the private key member "${m}"`);
  }
  const pub = publicPart(jwk, alg);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  if (jwk.kid !== kid) throw invalid(file, `${where} kid is not the RFC 7638 thumbprint of the key`);
  let privateKey: CryptoKey;
  try {
    // Node's WebCrypto import refuses a "d" that does not belong to "x"/"y" (a test holds it to
    // that), so a key that would sign assertions no backend accepts never loads.
    privateKey = (await importJWK(jwk, alg, { extractable: false })) as CryptoKey;
  } catch {
    throw invalid(file, `${where} cannot be imported as an ${alg} private key (or its parts do not match)`);
  }
  if (privateKey.type !== 'private') throw invalid(file, `${where} is not a private key`);
  const created = parseTime(createdAt, file, `${where}.createdAt`);
  const retired = retiredAt === undefined ? undefined : parseTime(retiredAt, file, `${where}.retiredAt`);
  const base = { kid, alg, createdAt: created, privateKey, publicJwk: { ...pub, kid, alg, use: 'sig' }, privateJwk: { ...jwk, kid, alg, use: 'sig' } };
  return retired === undefined ? base : { ...base, retiredAt: retired };
}

/**
 * Reads and checks the key file. Returns `undefined` when the file does not exist.
 *
 * Throws `signing-key-invalid` (naming the file, never a key) when it cannot be read, is not
 * JSON, a key is malformed, is for another algorithm than `alg`, has a `kid` that is not its
 * thumbprint, has a private part that does not match its public part, or when the file does not
 * hold exactly one current (not retired) key.
 *
 * This does NOT check the file's permissions or owner (it is written 0600; a file the operator
 * loosened afterwards is still loaded), nor whether another process is rotating the same file.
 */
export async function readKeyFile(file: string, alg: AssertionAlgorithm): Promise<StoredKey[] | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalid(file, 'is not valid JSON');
  }
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0) throw invalid(file, 'must be an object with a non-empty "keys" array');
  const keys = await Promise.all(list.map((k, i) => importKey(k, i, alg, file)));
  if (keys.filter((k) => k.retiredAt === undefined).length !== 1) throw invalid(file, 'must hold exactly one key without "retiredAt"');
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) throw invalid(file, 'holds the same key twice');
  return keys;
}

/**
 * Writes `keys` to `file` atomically: a temp file in the same directory (mode 0600), fsync, then
 * rename over the old file, so a crash leaves either the old or the new set, never half of one.
 * With `create`, the file must not exist yet (hard link instead of rename): resolves `false`
 * when another process created it first, so two instances starting together on a shared volume
 * end up with the same key. Creates the parent directory (mode 0700) when missing. Throws
 * `signing-key-invalid` when the file cannot be written.
 */
export async function writeKeyFile(file: string, keys: readonly StoredKey[], opts: { create?: boolean } = {}): Promise<boolean> {
  const doc = {
    keys: keys.map((k) => ({
      ...k.privateJwk,
      createdAt: new Date(k.createdAt).toISOString(),
      ...(k.retiredAt === undefined ? {} : { retiredAt: new Date(k.retiredAt).toISOString() }),
    })),
  };
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(doc, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (opts.create === true) {
      try {
        await link(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
    } else {
      await rename(tmp, file);
    }
    return true;
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw invalid(file, `cannot be written (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
}
