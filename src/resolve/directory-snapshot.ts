import { parse as parseYaml } from 'yaml';
import type { DirectoryEntry } from '../authenticate/identity.js';
import { parseDirectoryDocument, type DirectoryProblem } from './directory-format.js';
import { deriveTeams } from './directory-graph.js';

/**
 * One immutable, validated version of the directory. A reload builds a new snapshot and swaps it
 * in whole, so a request always sees one consistent version from start to end.
 */
export interface DirectorySnapshot {
  /** 0 for the empty directory, then 1, 2, ... for each successful (re)load that changed it. */
  readonly version: number;
  /** When this snapshot was built, epoch milliseconds (from the injected clock). */
  readonly loadedAt: number;
  get(id: string): DirectoryEntry | undefined;
  readonly entries: ReadonlyMap<string, DirectoryEntry>;
  /**
   * The same data as a value CEL reads directly, built once per snapshot, never per request:
   * a `ReadonlyMap<string, DirectoryEntry>` of frozen entries whose absent attributes are absent
   * (so `has(directory[id].manager)` is false rather than an error).
   */
  readonly celValue: unknown;
}

/** The snapshot of an unconfigured directory: nobody has a manager, reports or a team. */
export const EMPTY_DIRECTORY: DirectorySnapshot = makeSnapshot(new Map(), 0, 0);

/** A snapshot, or every fatal problem found (with paths), plus warnings either way. */
export type BuildResult =
  | { readonly ok: true; readonly snapshot: DirectorySnapshot; readonly warnings: readonly DirectoryProblem[] }
  | { readonly ok: false; readonly problems: readonly DirectoryProblem[] };

/**
 * Parses directory source text (`json`: strict JSON; `yaml`: YAML 1.2, which also reads JSON) and
 * builds a snapshot. Never throws for bad input: every problem is returned with its path.
 *
 * This does NOT check that the text came from a trusted place: the caller picks the source.
 */
export function buildSnapshot(text: string, format: 'json' | 'yaml', version: number, loadedAt: number): BuildResult {
  let doc: unknown;
  try {
    doc = format === 'json' ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, problems: [{ path: '', message: `not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${firstLine(err)}` }] };
  }
  const parsed = parseDirectoryDocument(doc);
  if (!parsed.ok) return parsed;
  const graph = deriveTeams(parsed.value.users, parsed.value.paths);
  return { ok: true, snapshot: makeSnapshot(graph.entries, version, loadedAt), warnings: [...parsed.value.warnings, ...graph.warnings] };
}

function makeSnapshot(entries: ReadonlyMap<string, DirectoryEntry>, version: number, loadedAt: number): DirectorySnapshot {
  return Object.freeze({
    version,
    loadedAt,
    entries,
    celValue: entries,
    get: (id: string) => entries.get(id),
  });
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}
