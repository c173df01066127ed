import { writeSync } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * The seam between the file store's writer and the filesystem: the segment file it appends to.
 * Production uses node:fs; fault tests inject a handle whose write or fsync fails (root ignores
 * permissions, so a read-only directory cannot make a write fail in CI).
 */

/** The operations the writer performs on an open segment file. */
export interface SegmentHandle {
  /**
   * write(2) on the calling thread; returns the bytes written, throws on error. Synchronous on
   * purpose: a write into the page cache takes microseconds, less than a thread-pool round trip
   * and the event-loop wake-up that ends it. The fsync, which waits for the disk, is async.
   */
  write(buffer: Uint8Array, offset: number, length: number): number;
  /** fdatasync(2). */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens segment files for appending. */
export interface SegmentFs {
  /** Open (creating if needed, mode 0600) `path` for appending. */
  openForAppend(path: string): Promise<SegmentHandle>;
}

/** The real filesystem: O_WRONLY | O_CREAT | O_APPEND, mode 0600. */
export const nodeSegmentFs: SegmentFs = {
  openForAppend: async (path) => {
    const fh = await open(path, 'a', 0o600);
    return {
      write: (buffer, offset, length) => writeSync(fh.fd, buffer, offset, length),
      datasync: () => fh.datasync(),
      truncate: (length) => fh.truncate(length),
      close: () => fh.close(),
    };
  },
};

/** Directory fsync, so a newly created segment file's name survives a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write all of `buffer` (a regular file may accept less than asked in one call). */
export function writeFully(fh: SegmentHandle, buffer: Uint8Array): void {
  let offset = 0;
  while (offset < buffer.length) {
    const bytesWritten = fh.write(buffer, offset, buffer.length - offset);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    offset += bytesWritten;
  }
}
