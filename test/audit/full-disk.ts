/** A segment filesystem whose disk can be made full: the real node:fs writer, failing on demand. */
import { nodeSegmentFs, type SegmentFs } from '../../src/audit/file-io.js';

/** Writes fail with ENOSPC while `disk.full` is true; everything else is the real filesystem. */
export function fullDiskFs(disk: { full: boolean }): SegmentFs {
  return {
    async openForAppend(path) {
      const fh = await nodeSegmentFs.openForAppend(path);
      return {
        write: (buffer, offset, length) => {
          if (disk.full) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          return fh.write(buffer, offset, length);
        },
        datasync: () => fh.datasync(),
        truncate: (n) => fh.truncate(n),
        close: () => fh.close(),
      };
    },
  };
}
