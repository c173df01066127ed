import { open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BehalfError } from '../errors.js';
import { isAlive } from '../lib/process-alive.js';

/** Name of the lock file inside an audit directory. */
export const LOCK_FILE = 'writer.lock';

/** A lock whose content cannot be read is only treated as stale once it is this old (10 s). */
const UNREADABLE_LOCK_GRACE_MS = 10_000;


async function lockHolder(path: string, now: number): Promise<number | 'stale' | 'gone'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    if (typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0) return isAlive(pid) ? pid : 'stale';
  } catch {
    // fall through: unreadable content
  }
  // A writer that crashed between creating and filling the file leaves it empty; a writer that
  // is filling it right now must not lose it, hence the grace period.
  const { mtimeMs } = await stat(path);
  return now - mtimeMs > UNREADABLE_LOCK_GRACE_MS ? 'stale' : 0;
}

/**
 * Take the single-writer lock of an audit directory: `writer.lock` created with O_EXCL holding
 * `{"pid":..,"since":..}`. A lock left by a dead process is taken over. Resolves to a release
 * function (removes the file if it is still ours).
 *
 * This does NOT protect against two processes taking over the same stale lock at the same
 * instant, against pid reuse (a stale lock whose pid now names a live process blocks until the
 * operator removes it), or against writers on other hosts sharing a network filesystem.
 *
 * @throws BehalfError `audit-store-locked` when a live process holds the lock;
 *         `audit-write-failed` when the lock file cannot be created.
 */
export async function acquireWriterLock(dir: string, now: () => number): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  const content = `${JSON.stringify({ pid: process.pid, since: new Date(now()).toISOString() })}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      try {
        await fh.writeFile(content);
        await fh.sync();
      } finally {
        await fh.close();
      }
      return async () => {
        try {
          if ((await readFile(path, 'utf8')) === content) await unlink(path);
        } catch {
          // already gone or unreadable: nothing of ours to remove
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new BehalfError('audit-write-failed', `cannot create the audit lock file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
      }
    }
    const holder = await lockHolder(path, now());
    if (typeof holder === 'number') {
      const who = holder > 0 ? `process ${holder}` : 'another process';
      throw new BehalfError(
        'audit-store-locked',
        `audit store ${dir} is in use by ${who}: only one gateway may write to it (if none is running, remove ${path})`,
      );
    }
    if (holder === 'stale') {
      try {
        await unlink(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new BehalfError('audit-write-failed', `cannot remove the stale lock ${path}`, { cause: err });
      }
    }
  }
  throw new BehalfError('audit-store-locked', `audit store ${dir}: could not take the writer lock ${path}`);
}
