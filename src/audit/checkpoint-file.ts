import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BehalfError } from '../errors.js';
import type { CheckpointItem } from '../stores/types.js';
import { checkpointLine, jwsOfLine, type StoredCheckpoint } from './checkpoint-format.js';
import { readLines } from './segment-files.js';

/**
 * The embedded store's checkpoints: `checkpoints.jsonl` in the audit directory (mode 0600), one
 * {@link StoredCheckpoint} per line, appended and fsynced by the writer (which holds the
 * directory's lock). A crash may leave a torn final line: the next append cuts it off, and a
 * reader reports it as a warning, not tampering.
 */

/** Name of the checkpoint file inside an audit directory. */
export const CHECKPOINT_FILE = 'checkpoints.jsonl';

/** Appends checkpoints to one directory's file, one at a time. */
export class CheckpointFileWriter {
  private queue: Promise<unknown> = Promise.resolve();
  private repaired = false;

  constructor(private readonly dir: string) {}

  /**
   * Append `cp` and fsync. Rejects with `audit-write-failed`.
   *
   * This does NOT stop another process with write access from editing the file: a forged or
   * altered checkpoint fails signature verification, a removed one is caught only as far as
   * `behalf audit verify` checks coverage (docs/audit.md).
   */
  append(cp: StoredCheckpoint): Promise<void> {
    const run = this.queue.then(() => this.write(`${checkpointLine(cp)}\n`));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(line: string): Promise<void> {
    const path = join(this.dir, CHECKPOINT_FILE);
    try {
      const fh = await open(path, 'a+', 0o600);
      try {
        if (!this.repaired) {
          await cutTornLine(fh);
          this.repaired = true;
        }
        await fh.write(line);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new BehalfError('audit-write-failed', `the audit checkpoint could not be written to ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
  }
}

/** Cut a final line without its newline (a crash mid-append) so the next line starts clean. */
async function cutTornLine(fh: Awaited<ReturnType<typeof open>>): Promise<void> {
  const { size } = await fh.stat();
  if (size === 0) return;
  const tail = Buffer.alloc(Math.min(size, 64 * 1024));
  await fh.read(tail, 0, tail.length, size - tail.length);
  if (tail.at(-1) === 0x0a) return;
  const nl = tail.lastIndexOf(0x0a);
  // A line longer than the window, or a file with no newline at all, is cut to its last newline.
  await fh.truncate(nl === -1 ? (size > tail.length ? size : 0) : size - tail.length + nl + 1);
}

/** Read `dir`'s checkpoints, oldest first (none when the file does not exist). */
export function readCheckpointFile(dir: string): AsyncGenerator<CheckpointItem> {
  return readCheckpointLines(join(dir, CHECKPOINT_FILE), CHECKPOINT_FILE);
}

/**
 * Read checkpoints from a JSON Lines file whose lines carry a `jws` member: the store's file, or
 * what a webhook receiver saved (its bodies, one per line). `name` labels locations.
 */
export async function* readCheckpointLines(path: string, name: string): AsyncGenerator<CheckpointItem> {
  if ((await stat(path).catch(() => undefined)) === undefined) return;
  for await (const l of readLines(path)) {
    const where = `${name}:${l.line}`;
    if (!l.terminated) {
      yield { problem: 'the last line is incomplete (a write in progress, or a crash)', where, torn: true };
      return;
    }
    const jws = jwsOfLine(l.text);
    if (typeof jws !== 'string') {
      yield { problem: jws.problem, where };
      continue;
    }
    const seq = (JSON.parse(l.text) as { seq?: unknown }).seq;
    yield { jws, where, ...(typeof seq === 'number' ? { seq } : {}) };
  }
}
