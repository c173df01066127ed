import { writeSync } from 'node:fs';
import { constants } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256Hex } from '../lib/digest.js';

/**
 * The head sidecar: the newest durable record's `seq` and `hash`, rewritten after every batch
 * is fsynced. Without it, cutting records off the end of the trail leaves a shorter but valid
 * chain; with it, verification sees that records the head vouches for are missing.
 *
 * It does NOT stop someone who can rewrite the segments AND the head: only a head hash copied
 * outside the machine (an export, a ticket, a transparency log) can, see docs/audit.md.
 *
 * Format: one JSON object `{"seq":N,"hash":"<hex>","check":"<16 hex>"}` padded with spaces to
 * a fixed {@link HEAD_BYTES} bytes plus a newline, where `check` is the first 16 hex digits of
 * SHA-256 over `"<seq>:<hash>"`. The fixed size lets the writer overwrite it in place with one
 * `pwrite` per batch (a temp-file-and-rename costs four system calls and a journal commit, more
 * than the batch's own write + fsync); `check` lets a reader tell a half-overwritten head from
 * a real one, and retry.
 */

/** Name of the head file inside an audit directory. */
export const HEAD_FILE = 'head.json';

/** Size of the head file, bytes (including the final newline). */
export const HEAD_BYTES = 128;

/** Content of the head file. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

const checkOf = (seq: number, hash: string): string => sha256Hex(`${seq}:${hash}`).slice(0, 16);

/** The bytes of a head file holding `head`. */
export function encodeHead(head: AuditHead): Buffer {
  const json = JSON.stringify({ seq: head.seq, hash: head.hash, check: checkOf(head.seq, head.hash) });
  return Buffer.from(`${json.padEnd(HEAD_BYTES - 1)}\n`, 'utf8');
}

function decodeHead(text: string): AuditHead | string {
  try {
    const v = JSON.parse(text) as { seq?: unknown; hash?: unknown; check?: unknown };
    if (typeof v.seq !== 'number' || !Number.isSafeInteger(v.seq) || v.seq < 1 || typeof v.hash !== 'string') return `${HEAD_FILE} is not a valid head`;
    if (v.check !== checkOf(v.seq, v.hash)) return `${HEAD_FILE} fails its own check`;
    return { seq: v.seq, hash: v.hash };
  } catch {
    return `${HEAD_FILE} is not valid JSON`;
  }
}

/**
 * Read the head of `dir`: `undefined` when there is no head file (or an empty one), a string saying what is wrong
 * when it is not a valid head. A head that fails its check is read again (up to 3 times, 5 ms
 * apart) in case the writer was overwriting it.
 */
export async function readHead(dir: string): Promise<AuditHead | undefined | string> {
  let problem = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await sleep(5);
    let text: string;
    try {
      text = await readFile(join(dir, HEAD_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return `cannot read ${HEAD_FILE}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
    }
    // A writer creates the file when it opens and fills it after its first batch: empty means
    // no batch yet, the same as no head file (which is all an emptied one could hide).
    if (text === '') return undefined;
    const head = decodeHead(text);
    if (typeof head !== 'string') return head;
    problem = head;
  }
  return problem;
}

/**
 * The writer's open head file, overwritten in place. Not fsynced: after a power loss the head
 * may lag behind the trail (verification accepts that) or be unreadable (the writer then warns
 * and rewrites it); it is never ahead, because it is only written once the records it names are
 * fsynced.
 */
export class HeadWriter {
  private constructor(private readonly fh: FileHandle) {}

  /** Open (creating with mode 0600) the head file of `dir`. */
  static async open(dir: string): Promise<HeadWriter> {
    const fh = await open(join(dir, HEAD_FILE), constants.O_RDWR | constants.O_CREAT, 0o600);
    return new HeadWriter(fh);
  }

  /** Overwrite the head with one positioned write (128 bytes, on the calling thread). */
  write(head: AuditHead): void {
    const bytes = encodeHead(head);
    writeSync(this.fh.fd, bytes, 0, bytes.length, 0);
  }

  /** Cut anything past the fixed size (a file written by something else). */
  async fixSize(): Promise<void> {
    const { size } = await this.fh.stat();
    if (size > HEAD_BYTES) await this.fh.truncate(HEAD_BYTES);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
