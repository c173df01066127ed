import { createReadStream } from 'node:fs';
import { mkdir, readdir, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BehalfError } from '../errors.js';
import { inspectTail } from './segment-files.js';
import { AuditSpool, ioError, SPOOL_FILE_RE, type AuditSpoolOptions, type SpoolFile } from './spool-files.js';
import { acquireWriterLock } from './writer-lock.js';

/** Opening a spool directory, new or left by an earlier run: see {@link openAuditSpool}. */

async function countLines(path: string, end: number): Promise<number> {
  if (end === 0) return 0;
  let lines = 0;
  for await (const chunk of createReadStream(path, { end: end - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++;
  }
  return lines;
}

/**
 * Open (creating it, 0700) the spool directory `dir`: take its single-writer lock (writer-lock.ts,
 * so one process per spool), cut a torn final line left by a crash off each file (reported
 * through `onWarning`; no append ever reported such a line written), remove empty files, and
 * count what waits.
 *
 * This does NOT read the records (the shipper parses them as it goes) and does NOT check them
 * against the trail.
 *
 * @throws BehalfError `audit-store-locked` (another live process has this spool),
 *         `audit-write-failed` (the directory cannot be created or read).
 */
export async function openAuditSpool(dir: string, opts: AuditSpoolOptions): Promise<AuditSpool> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError(`cannot create the audit spool directory ${dir}`, err);
  }
  const release = await acquireWriterLock(dir, opts.now ?? Date.now);
  try {
    const files: SpoolFile[] = [];
    let records = 0;
    let last = 0;
    for (const name of (await readdir(dir)).sort()) {
      const m = SPOOL_FILE_RE.exec(name);
      if (m?.[1] === undefined) continue;
      last = Number(m[1]);
      const path = join(dir, name);
      const tail = await inspectTail(path);
      if (tail.fragment !== undefined) {
        await truncate(path, tail.completeEnd);
        opts.onWarning?.(`audit: removed an incomplete final line (${tail.size - tail.completeEnd} bytes) from the spool file ${path}, left by an interrupted write`);
      }
      if (tail.completeEnd === 0) {
        await unlink(path);
        continue;
      }
      records += await countLines(path, tail.completeEnd);
      files.push({ name, path, size: tail.completeEnd });
    }
    return new AuditSpool(dir, files, last + 1, records, opts, release);
  } catch (err) {
    await release();
    if (err instanceof BehalfError) throw err;
    throw ioError(`cannot read the audit spool ${dir}`, err);
  }
}
