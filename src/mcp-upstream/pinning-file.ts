import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import { BehalfError } from '../errors.js';

/**
 * The tool pins file: what an operator (or the first sight of a tool) vouched for, and the
 * changed definitions waiting for review. Shared by the running gateway and `behalf tools`, so
 * every change is a read-modify-write under a lock file, and every write is atomic.
 *
 * Format (`version` 1), keyed by catalog name (`hr.get_reviews`):
 * ```json
 * { "version": 1,
 *   "tools": { "hr.get_reviews": {
 *     "upstream": "hr", "hash": "<sha-256 hex>", "pinnedAt": "<ISO 8601>", "definition": { ... },
 *     "pending": { "hash": "<sha-256 hex>", "seenAt": "<ISO 8601>", "definition": { ... } } } } }
 * ```
 * `definition` holds the pinned fields as the upstream gave them (see `tool-pinning.ts`);
 * `pending` is present only while the upstream serves a definition that differs from the pin.
 */

/** A definition waiting for `behalf tools accept`. */
export interface PendingPin {
  readonly hash: string;
  /** ISO 8601 time the gateway first saw this definition. */
  readonly seenAt: string;
  readonly definition: Readonly<Record<string, unknown>>;
}

/** One pinned tool. */
export interface PinEntry {
  /** Id of the upstream that served it when it was pinned. */
  readonly upstream: string;
  /** Lowercase hex SHA-256 of the canonical JSON of `definition`. */
  readonly hash: string;
  /** ISO 8601 time it was pinned (first sight or accept). */
  readonly pinnedAt: string;
  readonly definition: Readonly<Record<string, unknown>>;
  readonly pending?: PendingPin;
}

/** The whole file. `tools` is a Map so a tool named `__proto__` is just a name. */
export interface PinsDocument {
  readonly tools: ReadonlyMap<string, PinEntry>;
}

/** Name of the pins file, next to the signing key file. */
export const TOOL_PINS_FILE_NAME = 'tool-pins.json';

/** How long a lock file may live before it is taken to be left over by a crashed process, ms. */
const STALE_LOCK_MS = 10_000;
/** How long to wait for the lock before giving up, ms. */
const LOCK_WAIT_MS = 5_000;
const LOCK_RETRY_MS = 20;

const invalid = (file: string, why: string, cause?: unknown): BehalfError =>
  new BehalfError('tool-pins-invalid', `tool pins file ${file}: ${why}`, cause === undefined ? undefined : { cause });

/**
 * Where the pins live: `<directory of signing.keyFile>/tool-pins.json`, relative paths resolved
 * against `baseDir` (the config file's folder), as the gateway resolves the key file.
 */
export function toolPinsFile(config: Pick<Config, 'signing'>, baseDir: string): string {
  const keyFile = isAbsolute(config.signing.keyFile) ? config.signing.keyFile : resolve(baseDir, config.signing.keyFile);
  return join(dirname(keyFile), TOOL_PINS_FILE_NAME);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isHash = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isTime = (v: unknown): v is string => typeof v === 'string' && Number.isFinite(Date.parse(v));

function parseEntry(file: string, name: string, raw: unknown): PinEntry {
  const where = `tools[${JSON.stringify(name)}]`;
  if (!isObject(raw)) throw invalid(file, `${where} is not an object`);
  const { upstream, hash, pinnedAt, definition, pending } = raw;
  if (typeof upstream !== 'string' || !isHash(hash) || !isTime(pinnedAt) || !isObject(definition)) {
    throw invalid(file, `${where} needs "upstream", "hash" (64 hex), "pinnedAt" (ISO 8601) and "definition"`);
  }
  const entry: PinEntry = { upstream, hash, pinnedAt, definition };
  if (pending === undefined) return entry;
  if (!isObject(pending) || !isHash(pending.hash) || !isTime(pending.seenAt) || !isObject(pending.definition)) {
    throw invalid(file, `${where}.pending needs "hash", "seenAt" and "definition"`);
  }
  return { ...entry, pending: { hash: pending.hash, seenAt: pending.seenAt, definition: pending.definition } };
}

/**
 * Parses the file's text; throws `tool-pins-invalid` naming the file (never quoting it).
 *
 * This does NOT check that a `hash` is the hash of its `definition`: the hash is what the gateway
 * compares, the definition is kept for review. Whoever can write this file can accept any tool,
 * as whoever can write the signing key file can sign any identity.
 */
export function parsePinsDocument(file: string, text: string): PinsDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid(file, 'is not valid JSON');
  }
  if (!isObject(raw) || raw.version !== 1 || !isObject(raw.tools)) throw invalid(file, 'must be an object with "version": 1 and "tools"');
  const tools = new Map<string, PinEntry>();
  for (const [name, entry] of Object.entries(raw.tools)) tools.set(name, parseEntry(file, name, entry));
  return { tools };
}

/** JSON text of a document: tools sorted by name, so diffs between versions stay small. */
export function serializePinsDocument(doc: PinsDocument): string {
  const names = [...doc.tools.keys()].sort();
  // Object.fromEntries defines own properties, so `__proto__` stays a plain key.
  const tools = Object.fromEntries(names.map((n) => [n, doc.tools.get(n)]));
  return `${JSON.stringify({ version: 1, tools }, null, 2)}\n`;
}

/** Reads the pins; an absent file is an empty document. Throws `tool-pins-invalid`. */
export async function readPinsFile(file: string): Promise<PinsDocument> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { tools: new Map() };
    throw invalid(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  return parsePinsDocument(file, text);
}

/** A cheap fingerprint of the file's current version (`''` when absent), to notice changes. */
export async function pinsFileStamp(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '';
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw invalid(file, `cannot be written (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
}

async function acquireLock(lock: string, file: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw invalid(file, `cannot create its lock file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
    }
    const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > STALE_LOCK_MS) {
      await unlink(lock).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw invalid(file, `is locked by another process (${lock})`);
    await sleep(LOCK_RETRY_MS);
  }
}

/**
 * Applies `change` to the current file content under `<file>.lock` and writes the result
 * atomically (temp file, fsync, rename; mode 0600, directory created 0700). `change` returns the
 * new document, or `undefined` to leave the file untouched. Resolves the document now on disk.
 *
 * Reading under the lock is what keeps the gateway and `behalf tools accept` from undoing each
 * other's changes. A lock older than 10 s is taken over (its holder crashed). Throws
 * `tool-pins-invalid` when the file cannot be read, parsed, locked or written.
 *
 * This does NOT check the file's owner or permissions when reading, nor protect against a
 * process that writes the file without taking the lock.
 */
export async function updatePinsFile(file: string, change: (doc: PinsDocument) => PinsDocument | undefined): Promise<PinsDocument> {
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw invalid(file, `its directory cannot be created (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  const lock = `${file}.lock`;
  await acquireLock(lock, file);
  try {
    const current = await readPinsFile(file);
    const next = change(current);
    if (next === undefined) return current;
    await writeAtomically(file, serializePinsDocument(next));
    return next;
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}
