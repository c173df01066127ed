import { chmod, mkdir, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { DEFAULTS } from '../config/defaults.js';
import { BehalfError } from '../errors.js';
import type { AppendOptions, AuditCheckpoints, AuditQuery, AuditStore, VerifyOptions, VerifyResult, WrittenListener } from '../stores/types.js';
import { BatchQueue } from './batch-queue.js';
import { CheckpointFileWriter, readCheckpointFile } from './checkpoint-file.js';
import { parseStoredLine, sealRecord, type SealedRecord } from './chain.js';
import { nodeSegmentFs, syncDirectory, writeFully, type SegmentFs, type SegmentHandle } from './file-io.js';
import { HEAD_FILE, HeadWriter, readHead, type AuditHead } from './head-file.js';
import { followTrail, queryTrail } from './read-trail.js';
import type { AuditRecord, StoredAuditRecord } from './record.js';
import { recoverWriterState } from './recover-tail.js';
import { tell } from './written-listener.js';
import { listSegments, readLines, segmentName } from './segment-files.js';
import { verifyChain, type ChainEntry } from './verify-chain.js';
import { acquireWriterLock } from './writer-lock.js';

/** Options of {@link openFileAuditStore}. */
export interface FileAuditStoreOptions {
  /** Open for reading only: no lock, no recovery, `append` rejects. Default false. */
  readonly readOnly?: boolean;
  /** Extra batch window, ms. Default `DEFAULTS.auditFlushMs` (0: the next event-loop turn). */
  readonly flushMs?: number;
  /** Records nobody waits to be synced are fsynced within this time, ms. Default `DEFAULTS.auditSyncIntervalMs` (20 ms). */
  readonly syncIntervalMs?: number;
  /** Largest batch (one write). Default `DEFAULTS.auditBatchRecords` (256). */
  readonly batchRecords?: number;
  /** A new segment starts once the current one reaches this size, bytes. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** Follow poll interval, ms. Default 250. */
  readonly pollMs?: number;
  /** Clock, epoch ms (lock file timestamp). Default `Date.now`. */
  readonly now?: () => number;
  /** Filesystem seam for the segment writer (fault tests). Default: node:fs. */
  readonly fs?: SegmentFs;
  /** Recovery notices (a torn final line removed, ...). Default: ignored. */
  readonly onWarning?: (message: string) => void;
  /** Told of each batch once it is written (the audit sinks). Default: none. */
  readonly onWritten?: WrittenListener;
}

interface Writer {
  seq: number;
  hash: string;
  segment: string;
  size: number;
  fh: SegmentHandle;
  headStale: boolean;
  /** Written since the last fdatasync. */
  unsynced: boolean;
}

/**
 * The embedded audit store: append-only JSON Lines segment files in one directory (0700, files
 * 0600), hash-chained (chain.ts), with a head sidecar and a single-writer lock. Obtain one with
 * {@link openFileAuditStore}. Layout and guarantees: docs/audit.md.
 *
 * After a failed write or fsync, the batch's appends reject with `audit-write-failed`, the
 * segment is cut back to its last durable size, and the next batch re-reads the end of the trail
 * from disk (recover-tail.ts) before writing, so the chain stays unbroken. If the file cannot be
 * cut back, records whose append was rejected may remain in the trail (chained correctly); an
 * append that resolved is always in the trail.
 *
 * This does NOT protect the files from someone with write access to the directory: it makes
 * their changes detectable by `verify()` (within the limits in verify-chain.ts).
 */
export class FileAuditStore implements AuditStore {
  /** Counters for tests and metrics: batches written, fsyncs done, records made durable. */
  readonly stats = { batches: 0, fsyncs: 0, records: 0 };
  private writer: Writer | undefined;
  private head: HeadWriter | undefined;
  /** The newest record known fsynced (what the head file names once written). */
  private durable: AuditHead = { seq: 0, hash: '' };
  /** Signed checkpoints in `checkpoints.jsonl` beside the segments (checkpoint-file.ts). */
  readonly checkpoints: AuditCheckpoints;
  private closed = false;
  private readonly queue: BatchQueue;
  private readonly segmentBytes: number;
  private readonly fs: SegmentFs;
  private readonly warn: (message: string) => void;

  /** @internal use {@link openFileAuditStore}. */
  constructor(
    readonly dir: string,
    private readonly opts: FileAuditStoreOptions,
    private readonly releaseLock: (() => Promise<void>) | undefined,
  ) {
    this.segmentBytes = opts.segmentBytes ?? DEFAULTS.auditSegmentBytes;
    this.fs = opts.fs ?? nodeSegmentFs;
    this.warn = opts.onWarning ?? (() => {});
    this.queue = new BatchQueue({
      flushMs: opts.flushMs ?? DEFAULTS.auditFlushMs,
      syncIntervalMs: opts.syncIntervalMs ?? DEFAULTS.auditSyncIntervalMs,
      maxBatch: opts.batchRecords ?? DEFAULTS.auditBatchRecords,
      write: (records) => this.writeBatch(records),
      sync: () => this.syncBatch(),
    });
    const cpWriter = new CheckpointFileWriter(dir);
    this.checkpoints = {
      durableHead: async (o) => {
        // Records written so far are fsynced within syncIntervalMs by the batch queue's timer.
        const target = this.writer?.seq ?? 0;
        const end = Date.now() + 1_000;
        while (o?.settle === true && this.durable.seq < target && Date.now() < end) await sleep(2);
        return this.durable;
      },
      append: (cp) => (this.releaseLock === undefined ? Promise.reject(new BehalfError('audit-write-failed', `audit store ${this.dir} is open read-only`)) : cpWriter.append(cp)),
      read: () => readCheckpointFile(dir),
    };
  }

  /** Open-time work for a writer: recover the end of the chain and open the current segment. */
  async init(): Promise<void> {
    await this.openWriter();
  }

  append(records: readonly AuditRecord[], opts: AppendOptions = {}): Promise<void> {
    if (this.releaseLock === undefined) return Promise.reject(new BehalfError('audit-write-failed', `audit store ${this.dir} is open read-only`));
    return this.queue.push(records, opts.durability ?? 'synced');
  }

  query(q: AuditQuery): AsyncIterable<StoredAuditRecord> {
    return queryTrail(this.dir, q);
  }

  follow(opts: { last: number; signal: AbortSignal }): AsyncIterable<StoredAuditRecord> {
    return followTrail(this.dir, { ...opts, pollMs: this.opts.pollMs ?? DEFAULTS.auditFollowPollMs });
  }

  async verify(opts: VerifyOptions = {}): Promise<VerifyResult> {
    // The head first: it is written after the records it names, so every record it vouches for
    // is already in the segments when they are read next, even while the gateway is writing.
    const head = await readHead(this.dir);
    const segments = await listSegments(this.dir);
    const warnings: string[] = [];
    const entries = async function* (): AsyncGenerator<ChainEntry> {
      for (const [i, seg] of segments.entries()) {
        let first = true;
        for await (const l of readLines(seg.path)) {
          if (!l.terminated && i === segments.length - 1) {
            warnings.push(`${seg.name} ends with an incomplete line (a write in progress, or a crash: the writer removes it when it starts)`);
            break;
          }
          const record = l.terminated ? parseStoredLine(l.text) : 'the line has no newline';
          yield { record, file: seg.name, line: l.line, firstInFile: first };
          first = false;
        }
      }
    };
    let result: VerifyResult;
    try {
      result = await verifyChain(entries(), { ...(head !== undefined ? { head } : {}), headName: `head file (${HEAD_FILE})`, ...(opts.anchors !== undefined ? { anchors: opts.anchors } : {}) });
    } catch (err) {
      throw new BehalfError('audit-read-failed', `cannot read the audit trail in ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
    const { warnings: chainWarnings = [], ...rest } = result;
    const all = [...warnings, ...chainWarnings];
    return all.length > 0 ? { ...rest, warnings: all } : rest;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close();
    await this.writer?.fh.close().catch(() => {});
    this.writer = undefined;
    await this.head?.close().catch(() => {});
    this.head = undefined;
    await this.releaseLock?.();
  }

  private async openWriter(): Promise<Writer> {
    const state = await recoverWriterState(this.dir, this.warn);
    if (this.head === undefined) {
      this.head = await HeadWriter.open(this.dir);
      await this.head.fixSize();
    }
    const fh = await this.fs.openForAppend(join(this.dir, state.segment));
    // Records a previous writer wrote but did not sync are whole and chained: sync them before
    // the head may name them.
    await fh.datasync();
    await syncDirectory(this.dir);
    this.writer = { ...state, fh, unsynced: false };
    this.durable = { seq: state.seq, hash: state.hash };
    if (state.headStale) this.updateHead(this.writer);
    return this.writer;
  }

  private updateHead(w: Writer): void {
    if (this.head === undefined) throw new BehalfError('audit-write-failed', 'the audit head file is not open');
    this.head.write({ seq: w.seq, hash: w.hash });
    this.durable = { seq: w.seq, hash: w.hash };
    w.headStale = false;
  }

  private async writeBatch(records: AuditRecord[]): Promise<void> {
    let w: Writer;
    try {
      w = this.writer ?? (await this.openWriter());
      if (w.size >= this.segmentBytes) {
        const name = segmentName(w.seq + 1);
        const fh = await this.fs.openForAppend(join(this.dir, name));
        await syncDirectory(this.dir);
        await w.fh.close().catch(() => {});
        Object.assign(w, { fh, segment: name, size: 0 });
      }
    } catch (err) {
      await this.abandon(undefined);
      throw this.writeFailed('could not open the audit segment', err);
    }
    let seq = w.seq;
    let hash = w.hash;
    const lines: string[] = [];
    const listener = this.opts.onWritten;
    const sealedRecords: SealedRecord[] | undefined = listener === undefined ? undefined : [];
    for (const rec of records) {
      const sealed = sealRecord(rec, seq, hash);
      lines.push(sealed.line);
      sealedRecords?.push(sealed);
      seq = sealed.seq;
      hash = sealed.hash;
    }
    const buffer = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    try {
      writeFully(w.fh, buffer);
    } catch (err) {
      await this.abandon(w.size);
      throw this.writeFailed(`audit records could not be written to ${w.segment}`, err);
    }
    this.stats.batches++;
    this.stats.records += records.length;
    Object.assign(w, { seq, hash, size: w.size + buffer.length, unsynced: true });
    if (listener !== undefined) tell(listener, records, sealedRecords!);
  }

  /**
   * fdatasync what `writeBatch` wrote, then move the head to it. `written` appends of the batch
   * have already been answered, so a failed sync must not cut their records off: the file is
   * left as it is (the records are whole and chained) and the next batch re-reads its end.
   * The head is not fsynced: it may lag the trail after a power loss, and is never ahead of
   * what was synced. A head that cannot be written fails the batch's `synced` appends.
   */
  private async syncBatch(): Promise<void> {
    const w = this.writer;
    if (w === undefined || !w.unsynced) return;
    try {
      await w.fh.datasync();
    } catch (err) {
      await this.abandon(undefined);
      throw this.writeFailed(`audit records could not be synced to ${w.segment}`, err);
    }
    this.stats.fsyncs++;
    w.unsynced = false;
    w.headStale = true;
    try {
      this.updateHead(w);
    } catch (err) {
      throw this.writeFailed('the audit head file could not be updated', err);
    }
  }

  /** Cut the segment back to its last durable size and drop the writer; the next batch recovers. */
  private async abandon(durableSize: number | undefined): Promise<void> {
    const w = this.writer;
    this.writer = undefined;
    if (w === undefined) return;
    if (durableSize !== undefined) {
      try {
        await w.fh.truncate(durableSize);
        await w.fh.datasync();
      } catch {
        this.warn(`audit: could not cut ${w.segment} back after a failed write; the next write re-reads its end`);
      }
    }
    await w.fh.close().catch(() => {});
  }

  private writeFailed(message: string, cause: unknown): BehalfError {
    if (cause instanceof BehalfError) return new BehalfError('audit-write-failed', `${message}: ${cause.message}`, { cause });
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'error';
    return new BehalfError('audit-write-failed', `${message}: ${code}`, { cause });
  }
}

/**
 * Open the embedded audit store in `dir` (created with mode 0700 when missing). A writer takes
 * the directory's lock and recovers the end of the chain; a read-only store (the CLI) needs
 * neither and works while the gateway writes.
 *
 * This does NOT verify the existing trail (call `verify()`), and does NOT make the directory
 * safe on a shared or network filesystem.
 *
 * @throws BehalfError `audit-store-locked` (another live writer), `audit-chain-broken` (the
 *         trail is shorter than its head, see recover-tail.ts), `audit-read-failed` (read-only
 *         and `dir` is not a directory), `audit-write-failed`.
 */
export async function openFileAuditStore(dir: string, opts: FileAuditStoreOptions = {}): Promise<FileAuditStore> {
  if (opts.readOnly === true) {
    const st = await stat(dir).catch(() => undefined);
    if (st?.isDirectory() !== true) throw new BehalfError('audit-read-failed', `no audit store at ${dir}`);
    return new FileAuditStore(dir, opts, undefined);
  }
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  } catch (err) {
    throw new BehalfError('audit-write-failed', `cannot create the audit directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  const release = await acquireWriterLock(dir, opts.now ?? Date.now);
  const store = new FileAuditStore(dir, opts, release);
  try {
    await store.init();
  } catch (err) {
    await release();
    throw err;
  }
  return store;
}
