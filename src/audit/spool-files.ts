import { closeSync, fdatasync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BehalfError } from '../errors.js';
import { syncDirectory } from './file-io.js';
import type { AuditRecord } from './record.js';
import { readLines } from './segment-files.js';

/**
 * The local spool of the PostgreSQL audit store: records waiting on this host's disk while the
 * database cannot be reached. JSON Lines files `spool-<16 digits>.jsonl` (0600) in one directory
 * (0700), numbered in the order they were started, each line `{"key":..,"record":{..}}`: the
 * record as the pipeline built it (not yet sealed: `seq`, `prev` and `hash` are given when it is
 * shipped) and its idempotency key.
 */

/** A record waiting to be shipped, and the key that makes shipping it twice harmless. */
export interface SpoolEntry {
  readonly key: string;
  readonly record: AuditRecord;
}

/** Records read from the spool for one shipping transaction; pass it back to {@link AuditSpool.consume}. */
export interface SpoolBatch {
  readonly entries: readonly SpoolEntry[];
  readonly file: string;
  /** Byte range of `entries` in `file`. */
  readonly start: number;
  readonly end: number;
}

/** Options of `openAuditSpool` (spool-open.ts). */
export interface AuditSpoolOptions {
  /** Past this many bytes waiting, {@link AuditSpool.append} throws. */
  readonly maxBytes: number;
  /** A new file starts once the current one reaches this size, bytes. Default 16 MiB. */
  readonly fileBytes?: number;
  /** Clock, epoch ms (lock file timestamp). Default `Date.now`. */
  readonly now?: () => number;
  /** Recovery notices (a torn final line removed). Default: ignored. */
  readonly onWarning?: (message: string) => void;
}

const DEFAULT_FILE_BYTES = 16 * 1_048_576; // 16 MiB

/** One spool file, as the spool tracks it. */
export interface SpoolFile {
  readonly name: string;
  readonly path: string;
  /** Bytes of complete lines. */
  size: number;
}

/** Names of spool files; the number orders them. */
export const SPOOL_FILE_RE = /^spool-(\d{16})\.jsonl$/;

/** Name of spool file number `n`. */
export const spoolFileName = (n: number): string => `spool-${String(n).padStart(16, '0')}.jsonl`;

/** A spool fault as `audit-write-failed`, naming the errno code only. */
export function ioError(what: string, err: unknown): BehalfError {
  return new BehalfError('audit-write-failed', `${what}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
}

/**
 * An open spool (see the file comment); obtain one with `openAuditSpool` (spool-open.ts). One writer (the
 * store's batch queue) appends; one shipper reads batches from the oldest record on and
 * consumes them once committed. Appends are synchronous write(2) calls, so the count of waiting
 * records is exact at every point the event loop can observe it.
 *
 * This does NOT remember how far a file was shipped across a restart: after a crash the whole
 * oldest file is shipped again, and the idempotency keys make the repeat a no-op.
 */
export class AuditSpool {
  private fd: number | undefined;
  /** Descriptors of earlier files, still to be synced and closed. */
  private retired: number[] = [];
  private unsynced = false;
  private dirDirty = false;
  private syncing: Promise<void> = Promise.resolve();
  /** Byte offset of the next record to ship in `files[0]`. */
  private offset = 0;
  private waitingRecords: number;
  private waitingBytes: number;
  /** After a write that could not be undone, the file may end in a torn line: no more appends. */
  private failed: BehalfError | undefined;
  private closed = false;

  /** @internal use `openAuditSpool` (spool-open.ts). */
  constructor(
    readonly dir: string,
    private readonly files: SpoolFile[],
    private nextNumber: number,
    records: number,
    private readonly opts: AuditSpoolOptions,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.waitingRecords = records;
    this.waitingBytes = files.reduce((sum, f) => sum + f.size, 0);
  }

  /** Records waiting to be shipped. */
  get records(): number {
    return this.waitingRecords;
  }

  /** Bytes of the records waiting to be shipped. */
  get bytes(): number {
    return this.waitingBytes;
  }

  /**
   * Append `entries` in order with one write(2): on return they survive a crash of this process
   * (not a power loss: {@link sync}). Synchronous on purpose (see the class comment).
   *
   * @throws BehalfError `audit-write-failed` when the spool is full (`maxBytes`) or the disk
   *         refuses the write (nothing of the call is left in the file, unless it could not be
   *         cut back, after which every append fails).
   */
  append(entries: readonly SpoolEntry[]): void {
    if (this.closed) throw new BehalfError('audit-write-failed', `the audit spool ${this.dir} is closed`);
    if (this.failed !== undefined) throw this.failed;
    let text = '';
    for (const e of entries) text += `${JSON.stringify({ key: e.key, record: e.record })}\n`;
    const buf = Buffer.from(text);
    if (this.waitingBytes + buf.length > this.opts.maxBytes) {
      throw new BehalfError('audit-write-failed', `the audit spool ${this.dir} is full (${this.waitingBytes} bytes waiting, limit ${this.opts.maxBytes}): PostgreSQL has been unreachable too long`);
    }
    const file = this.currentFile();
    let written = 0;
    try {
      while (written < buf.length) {
        const n = writeSync(this.fd!, buf, written, buf.length - written);
        if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
        written += n;
      }
    } catch (err) {
      if (written > 0) {
        try {
          ftruncateSync(this.fd!, file.size);
        } catch (cutErr) {
          this.failed = ioError(`the audit spool file ${file.path} could not be cut back after a failed write; move the spool aside and restart`, cutErr);
        }
      }
      throw ioError(`cannot write to the audit spool ${file.path}`, err);
    }
    file.size += buf.length;
    this.waitingBytes += buf.length;
    this.waitingRecords += entries.length;
    this.unsynced = true;
  }

  /** fdatasync what was appended (and the directory, for new file names). Calls are serialized. */
  sync(): Promise<void> {
    const run = this.syncing.then(() => this.syncOnce());
    this.syncing = run.catch(() => {});
    return run;
  }

  /**
   * Up to `max` records from the oldest waiting one on, all from one file. Empty when every
   * appended record has been read (`consume` has not necessarily been called yet).
   *
   * @throws BehalfError `audit-write-failed` when a line is not a spool entry (the file was
   *         changed by hand or corrupted): it stays in place for the operator.
   */
  async readBatch(max: number): Promise<SpoolBatch> {
    for (;;) {
      const file = this.files[0];
      if (file === undefined) return { entries: [], file: '', start: 0, end: 0 };
      if (this.offset < file.size) {
        const entries: SpoolEntry[] = [];
        let end = this.offset;
        for await (const line of readLines(file.path, { start: this.offset, end: file.size })) {
          const entry = parseEntry(line.text);
          if (entry === undefined) throw new BehalfError('audit-write-failed', `the audit spool file ${file.path} holds a malformed line at byte ${line.start}; it was left in place: inspect it, then move it aside`);
          entries.push(entry);
          end = line.end;
          if (entries.length >= max) break;
        }
        return { entries, file: file.name, start: this.offset, end };
      }
      if (this.files.length === 1) return { entries: [], file: file.name, start: this.offset, end: this.offset };
      this.dropOldest();
    }
  }

  /** Forget a batch that was committed: it is removed from the disk once its file is done. */
  consume(batch: SpoolBatch): void {
    const file = this.files[0];
    if (file === undefined || file.name !== batch.file || batch.start !== this.offset) return;
    this.offset = batch.end;
    this.waitingRecords -= batch.entries.length;
    this.waitingBytes -= batch.end - batch.start;
    if (this.offset === file.size) {
      if (this.files.length > 1) this.dropOldest();
      else if (this.waitingRecords === 0) this.dropAll();
    }
  }

  /** Sync, close the files (what waits stays for the next start) and release the directory. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.sync();
    } finally {
      if (this.fd !== undefined) this.retired.push(this.fd);
      this.fd = undefined;
      for (const fd of this.retired.splice(0)) closeSync(fd);
      await this.releaseLock();
    }
  }

  private currentFile(): SpoolFile {
    const last = this.files.at(-1);
    if (last !== undefined && this.fd !== undefined && last.size < (this.opts.fileBytes ?? DEFAULT_FILE_BYTES)) return last;
    const name = spoolFileName(this.nextNumber++);
    const path = join(this.dir, name);
    let fd: number;
    try {
      fd = openSync(path, 'a', 0o600);
    } catch (err) {
      throw ioError(`cannot create the audit spool file ${path}`, err);
    }
    if (this.fd !== undefined) this.retired.push(this.fd);
    this.fd = fd;
    this.dirDirty = true;
    const file: SpoolFile = { name, path, size: 0 };
    this.files.push(file);
    return file;
  }

  private async syncOnce(): Promise<void> {
    const fds = this.fd !== undefined && this.unsynced ? [this.fd] : [];
    const retired = this.retired.splice(0);
    const dirDirty = this.dirDirty;
    this.unsynced = false;
    this.dirDirty = false;
    try {
      for (const fd of [...retired, ...fds]) await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
      if (dirDirty) await syncDirectory(this.dir);
    } catch (err) {
      this.unsynced ||= fds.length > 0;
      this.dirDirty ||= dirDirty;
      throw ioError(`cannot sync the audit spool ${this.dir}`, err);
    } finally {
      for (const fd of retired) closeSync(fd);
    }
  }

  private dropOldest(): void {
    const file = this.files.shift()!;
    this.offset = 0;
    this.removeLater(file.path);
  }

  /** Everything was shipped: the next append starts a new file. */
  private dropAll(): void {
    const file = this.files.shift()!;
    this.offset = 0;
    if (this.fd !== undefined) this.retired.push(this.fd);
    this.fd = undefined;
    this.removeLater(file.path);
  }

  private removeLater(path: string): void {
    // A file that outlives a crash is shipped again, and its keys make that a no-op.
    unlink(path).catch((err: unknown) => this.opts.onWarning?.(`audit: could not remove the shipped spool file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`));
  }
}

function parseEntry(text: string): SpoolEntry | undefined {
  try {
    const v = JSON.parse(text) as { key?: unknown; record?: unknown };
    if (typeof v.key !== 'string' || v.record === null || typeof v.record !== 'object' || Array.isArray(v.record)) return undefined;
    return { key: v.key, record: v.record as AuditRecord };
  } catch {
    return undefined;
  }
}
