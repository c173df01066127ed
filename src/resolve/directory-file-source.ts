import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname } from 'node:path';
import type { DirectorySource, SourceRead } from './directory-source.js';
import { DEFAULTS } from '../config/defaults.js';

/** Tuning for the file source; tests shorten these, production keeps the defaults. */
export interface FileSourceOptions {
  /** Quiet time after the last change event before re-reading, ms. Default 100 ms. */
  readonly debounceMs?: number;
  /**
   * Period of the stat() check that runs alongside the watcher, ms. Default 5 000 ms. It catches
   * what inotify misses (some network and container bind mounts, a symlink to another folder) and
   * is the only mechanism when `fs.watch` is unavailable.
   */
  readonly pollMs?: number;
  /** Set to false to use only the stat() poll. Default true. */
  readonly watch?: boolean;
}

/**
 * A directory kept in a local YAML or JSON file (`.json` is read as JSON, anything else as YAML).
 *
 * Change detection watches the file's folder, not the file: editors and deploy tools replace a
 * file by writing a new one and renaming it over the old (a watch on the old inode would go
 * silent), and Kubernetes ConfigMaps swap a `..data` symlink next to it. Events are debounced,
 * and the text is compared by SHA-256 with the last accepted version, so a touch or a burst of
 * events costs one read and no reload.
 *
 * This does NOT follow changes made while the process is not running (start() reads the file
 * fresh), and does NOT lock the file: a half-written file fails validation and the previous
 * snapshot stays until the next change.
 */
export function fileSource(path: string, options: FileSourceOptions = {}): DirectorySource {
  const debounceMs = options.debounceMs ?? DEFAULTS.directoryFileDebounceMs;
  const pollMs = options.pollMs ?? DEFAULTS.directoryFilePollMs;
  const format = extname(path).toLowerCase() === '.json' ? 'json' : 'yaml';
  const name = basename(path);
  let acceptedHash: string | undefined;
  let watcher: FSWatcher | undefined;
  let poller: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let lastStat = '';
  let closed = false;

  const statKey = async (): Promise<string> => {
    try {
      const s = await stat(path);
      return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    } catch (err) {
      return `missing:${(err as NodeJS.ErrnoException).code ?? ''}`;
    }
  };

  return {
    describe: `file ${path}`,

    async read(): Promise<SourceRead> {
      let text: string;
      try {
        lastStat = await statKey();
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw new Error(`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
      }
      const hash = createHash('sha256').update(text).digest('hex');
      if (hash === acceptedHash) return { changed: false };
      return { changed: true, text, format, accept: () => void (acceptedHash = hash) };
    },

    watch(onChange: () => void): void {
      if (closed) return;
      const schedule = () => {
        if (closed) return;
        if (debounce !== undefined) clearTimeout(debounce);
        debounce = setTimeout(() => {
          debounce = undefined;
          onChange();
        }, debounceMs);
        debounce.unref();
      };
      if (options.watch !== false) {
        try {
          watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
            // `..data` is how Kubernetes swaps a mounted ConfigMap; null means the OS did not say.
            if (filename === null || filename === name || filename.startsWith('..')) schedule();
          });
          watcher.on('error', () => {
            // The folder was removed or the watch broke: the stat() poll below carries on alone.
            watcher?.close();
            watcher = undefined;
          });
        } catch {
          watcher = undefined;
        }
      }
      poller = setInterval(() => {
        void statKey().then((key) => {
          if (key !== lastStat) {
            lastStat = key;
            schedule();
          }
        });
      }, pollMs);
      poller.unref();
    },

    close(): void {
      closed = true;
      watcher?.close();
      watcher = undefined;
      if (poller !== undefined) clearInterval(poller);
      if (debounce !== undefined) clearTimeout(debounce);
    },
  };
}
