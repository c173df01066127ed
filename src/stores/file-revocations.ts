import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BehalfError } from '../errors.js';
import { newRevocationVersion, revocationField } from './memory-revocations.js';
import type { Revocation, RevocationKind, RevocationStore } from './types.js';

/**
 * Revocations of one gateway, kept in a small JSON file in its state directory (default
 * `.behalf/revocations.json`), so a restart does not forget them.
 *
 * Format: `{"version":1,"revocations":[<Revocation>, ...]}`, times in ms since epoch. Every change
 * rewrites the whole file atomically (temp file in the same directory, fsync, rename, directory
 * fsync): a crash leaves the old set or the new one, never half of one. Revocations past `until`
 * are dropped when the file is loaded and at the next write.
 */

const KINDS: ReadonlySet<string> = new Set(['user', 'client', 'token']);

function corrupt(path: string, why: string): BehalfError {
  return new BehalfError(
    'revocation-store-failed',
    `revocation file ${path} is unusable (${why}): refusing to start rather than forget revocations; restore it from a backup, or move it aside to start with none`,
  );
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
const time = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parseEntry(raw: unknown, i: number, path: string): Revocation {
  const where = `revocations[${i}]`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw corrupt(path, `${where} is not an object`);
  const r = raw as Record<string, unknown>;
  if (typeof r.kind !== 'string' || !KINDS.has(r.kind)) throw corrupt(path, `${where}.kind must be user, client or token`);
  if (typeof r.value !== 'string' || r.value === '') throw corrupt(path, `${where}.value must be a non-empty string`);
  if (!time(r.at) || !time(r.until)) throw corrupt(path, `${where}.at and .until must be times in ms`);
  if (r.issuedBefore !== undefined && !time(r.issuedBefore)) throw corrupt(path, `${where}.issuedBefore must be a time in ms`);
  if (!optionalString(r.issuer) || !optionalString(r.reason) || !optionalString(r.by)) throw corrupt(path, `${where}: issuer, reason and by must be strings`);
  return {
    kind: r.kind as RevocationKind,
    value: r.value,
    at: r.at as number,
    until: r.until as number,
    ...(r.issuer !== undefined ? { issuer: r.issuer as string } : {}),
    ...(r.issuedBefore !== undefined ? { issuedBefore: r.issuedBefore as number } : {}),
    ...(r.reason !== undefined ? { reason: r.reason as string } : {}),
    ...(r.by !== undefined ? { by: r.by as string } : {}),
  };
}

/**
 * Read the revocation file: `[]` when it does not exist, the revocations still in force at `now`
 * otherwise.
 *
 * @throws BehalfError `revocation-store-failed` when it exists but cannot be read, is not JSON or
 *         holds an entry that is not a revocation (the message names the file, never its content).
 */
export async function readRevocationFile(path: string, now: number): Promise<Revocation[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw corrupt(path, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw corrupt(path, 'not valid JSON');
  }
  const d = doc as { version?: unknown; revocations?: unknown } | null;
  if (d === null || typeof d !== 'object' || d.version !== 1 || !Array.isArray(d.revocations)) {
    throw corrupt(path, 'expected {"version":1,"revocations":[...]}');
  }
  return d.revocations.map((r, i) => parseEntry(r, i, path)).filter((r) => r.until > now);
}

/** Write `revocations` to `path` atomically (temp + fsync + rename + directory fsync), mode 0600. */
async function writeRevocationFile(path: string, revocations: readonly Revocation[]): Promise<void> {
  const dir = dirname(path);
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify({ version: 1, revocations }, null, 1)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new BehalfError('revocation-store-failed', `revocation file ${path} could not be written: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
}

/**
 * Open the revocation file at `path` (absolute), loading what it holds. A change resolves once it
 * is on disk; if the write fails, the change is not made (the admin API answers 503) and the set
 * stays as it was.
 *
 * This does NOT share revocations between gateway instances (each would overwrite the other's
 * file): several instances need `redis://`. It does NOT lock the file: one gateway per state
 * directory (the embedded audit store's writer lock enforces that when it lives there too). It
 * does NOT protect the file from someone who can write the state directory.
 *
 * @throws BehalfError `revocation-store-failed` when the file exists and is unusable: the gateway
 *         refuses to start (fail closed) rather than silently forget revocations.
 */
export async function openFileRevocationStore(path: string, opts: { now?: () => number } = {}): Promise<RevocationStore> {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Revocation>();
  for (const r of await readRevocationFile(path, now())) entries.set(revocationField(r.kind, r.value, r.issuer), r);
  let version = newRevocationVersion(now());
  // One write at a time, in call order; each persists the set as it is after its own change.
  let queue: Promise<unknown> = Promise.resolve();
  const change = <T>(op: (next: Map<string, Revocation>) => { changed: boolean; result: T }, t: number): Promise<T> => {
    const run = queue.then(async () => {
      const next = new Map([...entries].filter(([, r]) => r.until > t));
      const { changed, result } = op(next);
      if (changed || next.size !== entries.size) {
        await writeRevocationFile(path, [...next.values()]);
        entries.clear();
        for (const [k, v] of next) entries.set(k, v);
        if (changed) version = newRevocationVersion(t);
      }
      return result;
    });
    queue = run.catch(() => undefined);
    return run;
  };
  return {
    kind: 'file',
    add: (revocation, t) =>
      change((next) => {
        next.set(revocationField(revocation.kind, revocation.value, revocation.issuer), revocation);
        return { changed: true, result: undefined };
      }, t),
    remove: (kind, value, issuer, t) =>
      change((next) => {
        const removed = next.delete(revocationField(kind, value, issuer));
        return { changed: removed, result: removed };
      }, t),
    list: async (t) => [...entries.values()].filter((r) => r.until > t),
    version: async () => version,
    ping: async () => {},
    close: async () => {
      await queue;
    },
  };
}
