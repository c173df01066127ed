import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openFileAuditStore, type FileAuditStore, type FileAuditStoreOptions } from '../../src/audit/file-store.js';
import type { AuditRecord, StoredAuditRecord } from '../../src/audit/record.js';
import { openAuditStore } from '../../src/audit/auditor.js';
import type { AuditConfig } from '../../src/config/schema.js';
import { Command, CommanderError } from 'commander';
import { registerAuditCommands } from '../../src/cli/commands/audit.js';
import { loadConfigFile } from '../../src/config/load.js';
import { isBehalfError } from '../../src/errors.js';

/** A fresh temp directory, removed after the test file. */
export async function tempDir(prefix = 'behalf-audit-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const USERS = ['alice', 'bob', 'carol', 'mallory'] as const;

/** Record number `i` (1-based) of a predictable demo trail; `over` replaces fields. */
export function rec(i: number, over: Partial<AuditRecord> = {}): AuditRecord {
  const user = USERS[(i - 1) % USERS.length]!;
  return {
    time: new Date(Date.UTC(2025, 4, 1, 10, 0, i)).toISOString(),
    requestId: `req-${i}`,
    door: 'http',
    route: 'hr',
    method: 'GET',
    path: `/api/hr/reviews/${user}`,
    user,
    client: 'chatgpt',
    decision: user === 'mallory' ? 'deny' : 'allow',
    reason: user === 'mallory' ? 'denied-by-rule' : 'allowed-by-rule',
    ruleId: user === 'mallory' ? 'no-cross-department' : 'managers-read-team',
    status: user === 'mallory' ? 403 : 200,
    latencyMs: 12.5,
    ...over,
  };
}

/** Open a writer in `dir` with a test-friendly batch window, collecting warnings. */
export async function openStore(dir: string, opts: FileAuditStoreOptions = {}): Promise<FileAuditStore & { warnings: string[] }> {
  const warnings: string[] = [];
  const store = await openFileAuditStore(dir, { flushMs: 1, onWarning: (m) => warnings.push(m), ...opts });
  return Object.assign(store, { warnings });
}

/** A closed trail of records 1..n in `dir`. */
export async function writeTrail(dir: string, n: number, opts: FileAuditStoreOptions = {}): Promise<void> {
  const store = await openStore(dir, opts);
  await store.append(Array.from({ length: n }, (_, k) => rec(k + 1)));
  await store.close();
}

/** Every record of a store, oldest first. */
export async function all(store: { query(q: object): AsyncIterable<StoredAuditRecord> }, q: object = {}): Promise<StoredAuditRecord[]> {
  const out: StoredAuditRecord[] = [];
  for await (const r of store.query(q)) out.push(r);
  return out;
}

/** Lines of a text file (without the trailing empty string). */
export async function readLinesOf(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

export async function writeLines(path: string, lines: string[]): Promise<void> {
  await writeFile(path, lines.map((l) => `${l}\n`).join(''));
}

/** Every record of the trail a gateway writes (opened read-only beside it), in seq order. */
export async function readAuditTrail(store: Pick<AuditConfig, 'store'>, baseDir: string): Promise<StoredAuditRecord[]> {
  const reader = await openAuditStore(store, { baseDir, readOnly: true });
  const out: StoredAuditRecord[] = [];
  try {
    for await (const r of reader.query({})) out.push(r);
  } finally {
    await reader.close();
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/**
 * Runs `behalf audit <args>` in-process with the error mapping of cli/program.ts `main`:
 * commander usage errors exit 2, a thrown fault prints `code: message` and exits 1.
 */
export async function runAuditCli(args: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('behalf').exitOverride().configureOutput({ writeOut: (s) => void out.push(s.trimEnd()), writeErr: (s) => void err.push(s.trimEnd()) });
  registerAuditCommands(program, async (file) => (await loadConfigFile(file, {})).config);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, err: err.join('\n') };
  } catch (e) {
    if (e instanceof CommanderError) return { code: e.exitCode === 0 ? 0 : 2, out, err: err.join('\n') };
    err.push(isBehalfError(e) ? `${e.code}: ${e.message}` : String(e));
    return { code: 1, out, err: err.join('\n') };
  }
}
