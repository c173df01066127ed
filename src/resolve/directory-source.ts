/**
 * Where directory text comes from (a file or an HTTP endpoint), kept apart from what it means
 * (directory-format.ts) and from when a new version replaces the old one (directory.ts).
 */
export interface DirectorySource {
  /** Names the source in logs and errors: a path, or a URL without its query. Never a secret. */
  readonly describe: string;
  /**
   * Reads the current text. `changed: false` means the same text was accepted before (same hash,
   * or HTTP 304). Call `accept()` once the text has been validated, so the next identical read is
   * skipped; a rejected text is read and reported again on the next change. Throws when the
   * source cannot be read at all.
   */
  read(): Promise<SourceRead>;
  /** Starts calling `onChange` when the text may have changed. Called once, after the first read. */
  watch(onChange: () => void): void;
  /** Stops watching and polling; aborts an in-flight read where possible. Idempotent. */
  close(): void;
}

export type SourceRead =
  | { readonly changed: false }
  | { readonly changed: true; readonly text: string; readonly format: 'json' | 'yaml'; accept(): void };
