import { open } from 'node:fs/promises';

/**
 * The seam between the file store's writer and the filesystem: the segment file it appends to.
 * Production uses node:fs; fault tests inject a handle whose write or fsync fails (root ignores
 * permissions, so a read-only directory cannot make a write fail in CI).
 */

/** The operations the writer performs on an open segment file (a subset of node's FileHandle). */
export interface SegmentHandle {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
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
  openForAppend: (path) => open(path, 'a', 0o600),
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
export async function writeFully(fh: SegmentHandle, buffer: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await fh.write(buffer, offset, buffer.length - offset);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    offset += bytesWritten;
  }
}
