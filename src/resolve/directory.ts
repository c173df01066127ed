import { resolve } from 'node:path';
import type { DirectoryEntry, Identity } from '../authenticate/identity.js';
import type { Config, DirectoryConfig } from '../config/schema.js';
import { BehalfError } from '../errors.js';
import { formatDirectoryProblem, type DirectoryProblem } from './directory-format.js';
import { fileSource } from './directory-file-source.js';
import { httpSource } from './directory-http-source.js';
import { buildSnapshot, EMPTY_DIRECTORY, type DirectorySnapshot } from './directory-snapshot.js';
import type { DirectorySource } from './directory-source.js';

export { EMPTY_DIRECTORY, type DirectorySnapshot } from './directory-snapshot.js';

/** The live directory: always answers from the last good snapshot, reloads in the background. */
export interface Directory {
  /** The current snapshot. Cheap (no I/O); take it once per request and use it throughout. */
  snapshot(): DirectorySnapshot;
  /**
   * Loads the directory, then starts watching (file) or polling (URL). Rejects with
   * `BehalfError('directory-load-failed')` naming every problem when the first load fails.
   * Calling it again returns the same promise.
   */
  start(): Promise<void>;
  /**
   * Re-reads the source now. Resolves true when a new snapshot replaced the old one, false when
   * nothing changed or the new version was refused (reported to the logger; the old one stays).
   * Never rejects. Concurrent calls share one read.
   */
  reload(): Promise<boolean>;
  /** Stops watching and polling. Idempotent. The last snapshot stays readable. */
  close(): Promise<void>;
}

/** Where load warnings and refused reloads go. A pino `Logger` fits. */
export interface DirectoryLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** Dependencies and tuning for `createDirectory`. */
export interface DirectoryOptions {
  /** Folder that a relative `directory.file` is resolved from (the config file's folder). */
  readonly baseDir: string;
  /** For the URL source; default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Receives load warnings and refused reloads. Default: silent. */
  readonly logger?: DirectoryLogger;
  /** Clock for `DirectorySnapshot.loadedAt`, epoch ms. Default `Date.now`. */
  readonly now?: () => number;
  /** File source: quiet time after a change event, ms. Default 100 ms. */
  readonly debounceMs?: number;
  /** File source: period of the stat() safety poll, ms. Default 5 000 ms. */
  readonly pollMs?: number;
  /** File source: false to rely on the stat() poll only. Default true. */
  readonly watch?: boolean;
  /** URL source: whole-request timeout, ms. Default min(10 000 ms, refreshMs). */
  readonly timeoutMs?: number;
}

const MAX_LISTED_PROBLEMS = 20;

/**
 * Creates the directory described by `cfg` (`undefined` gives the empty directory: every lookup
 * misses, and "my team" rules deny). See docs/policy.md for the file format.
 *
 * A reload that fails to read or validate keeps the previous snapshot, so a bad edit never
 * empties the directory mid-flight; it is reported to the logger with the path of each problem.
 *
 * This does NOT authenticate anyone: it only describes people. Entries are matched to identities
 * by `Identity.id` by the caller (the resolve stage); a directory entry never grants anything by
 * itself, it only feeds policy conditions.
 */
export function createDirectory(cfg: DirectoryConfig | undefined, opts: DirectoryOptions): Directory {
  if (cfg === undefined) {
    return { snapshot: () => EMPTY_DIRECTORY, start: async () => {}, reload: async () => false, close: async () => {} };
  }
  const now = opts.now ?? Date.now;
  const source: DirectorySource =
    cfg.file !== undefined
      ? fileSource(resolve(opts.baseDir, cfg.file), {
          ...(opts.debounceMs === undefined ? {} : { debounceMs: opts.debounceMs }),
          ...(opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }),
          ...(opts.watch === undefined ? {} : { watch: opts.watch }),
        })
      : httpSource({
          url: cfg.url ?? '',
          headers: cfg.headers,
          refreshMs: cfg.refreshMs,
          ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
          ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
        });

  let current: DirectorySnapshot = EMPTY_DIRECTORY;
  let started: Promise<void> | undefined;
  let inFlight: Promise<boolean> | undefined;
  let again = false;
  let closed = false;

  /** One read-validate-swap. Throws with every problem listed when the new version is refused. */
  const loadOnce = async (): Promise<boolean> => {
    const read = await source.read();
    if (!read.changed) return false;
    const built = buildSnapshot(read.text, read.format, current.version + 1, now());
    if (!built.ok) throw new Error(listProblems(built.problems));
    read.accept();
    current = built.snapshot;
    if (built.warnings.length > 0) {
      opts.logger?.warn({ directory: source.describe, warnings: built.warnings.map(formatDirectoryProblem) }, 'directory loaded with warnings');
    }
    return true;
  };

  const reload = (): Promise<boolean> => {
    if (inFlight !== undefined) {
      // A change seen during a read may not be in what that read got: read once more after it.
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      let changed = false;
      do {
        again = false;
        try {
          if (await loadOnce()) {
            changed = true;
            opts.logger?.info({ directory: source.describe, version: current.version, users: current.entries.size }, 'directory reloaded');
          }
        } catch (err) {
          if (!closed) {
            opts.logger?.warn({ directory: source.describe, error: (err as Error).message }, 'directory reload refused; keeping the previous version');
          }
        }
      } while (again && !closed);
      inFlight = undefined;
      return changed;
    })();
    return inFlight;
  };

  return {
    snapshot: () => current,
    start() {
      started ??= (async () => {
        try {
          await loadOnce();
        } catch (err) {
          source.close();
          throw new BehalfError('directory-load-failed', `directory ${source.describe}: ${(err as Error).message}`, { cause: err });
        }
        if (!closed) source.watch(() => void reload());
      })();
      return started;
    },
    reload,
    async close() {
      closed = true;
      source.close();
      await inFlight;
    },
  };
}

function listProblems(problems: readonly DirectoryProblem[]): string {
  const shown = problems.slice(0, MAX_LISTED_PROBLEMS).map(formatDirectoryProblem);
  const more = problems.length > MAX_LISTED_PROBLEMS ? `; and ${problems.length - MAX_LISTED_PROBLEMS} more` : '';
  return shown.join('; ') + more;
}

/**
 * The caller's directory entry, looked up by the name behalf gives the user (`identity.id`). Two
 * IdPs may both have a user `alice`: the home issuer's is `alice`, the other's `partner:alice`
 * (user-names.ts), so a token from the other IdP never gets the directory's alice, her reports
 * or her team. A directory may describe another issuer's users under their qualified ids.
 *
 * This does NOT qualify ids inside the directory (`manager`, `reports`): a plain id there is a
 * home user, a qualified one another issuer's.
 */
export function entryOf(snapshot: DirectorySnapshot, identity: Identity): DirectoryEntry | undefined {
  return snapshot.get(identity.id);
}
