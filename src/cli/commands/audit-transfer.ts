import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { checkLink, GENESIS_PREV, parseStoredLine } from '../../audit/chain.js';
import { openFileAuditStore } from '../../audit/file-store.js';
import { readHead } from '../../audit/head-file.js';
import type { StoredAuditRecord } from '../../audit/record.js';
import { readLines } from '../../audit/segment-files.js';
import { BehalfError } from '../../errors.js';
import type { PostgresAuditStore } from '../../stores/postgres-audit-store.js';
import { storedLine } from '../../stores/postgres-rows.js';
import type { AuditStore } from '../../stores/types.js';

/**
 * `behalf audit export` and `behalf audit import`: move a trail between the embedded store and
 * PostgreSQL with every record's `seq`, `prev` and `hash` unchanged, so the copy verifies with
 * the same hashes as the original (and a head anchored elsewhere still matches).
 */

/** What the transfer commands need from `audit.ts`: how to open the store the flags name. */
export interface TransferDeps {
  /** Open the store named by `--config`/`--store` (read-only for export, a writer for import). */
  open(flags: { config: string; store?: string }, readOnly: boolean): Promise<AuditStore>;
  /** Which kind of store the flags name, without opening it. */
  kind(flags: { config: string; store?: string }): Promise<'file' | 'postgres'>;
  out(cmd: Command, line: string): void;
  err(cmd: Command, line: string): void;
}

/** Records of `source`, oldest first, each checked to follow the one before from record 1. */
async function* checkedRecords(source: AuditStore, seen: { count: number; last?: StoredAuditRecord }): AsyncGenerator<StoredAuditRecord> {
  let prevSeq = 0;
  let prevHash = GENESIS_PREV;
  for await (const rec of source.query({})) {
    const link = checkLink(rec, prevSeq, prevHash);
    if (link !== 'ok') {
      throw new BehalfError('audit-chain-broken', `the trail does not verify at record ${prevSeq + 1} (${link}); run behalf audit verify. Nothing was exported`);
    }
    prevSeq = rec.seq;
    prevHash = rec.hash;
    seen.count++;
    seen.last = rec;
    yield rec;
  }
}

async function isEmptyOrMissing(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/** Write the trail as an embedded store in `dir` (must be missing or empty), built aside and renamed in place. */
async function exportToDirectory(records: AsyncIterable<StoredAuditRecord>, dir: string, seen: { count: number; last?: StoredAuditRecord }): Promise<void> {
  if (!(await isEmptyOrMissing(dir))) throw new BehalfError('audit-write-failed', `${dir} exists and is not empty: export into a new directory`);
  const tmp = join(dirname(dir), `.${basename(dir)}.partial-${randomBytes(4).toString('hex')}`);
  try {
    // The embedded writer re-seals each record after its predecessor: from record 1 that gives
    // back the same seq, prev and hash (checked below against the source's last hash).
    const writer = await openFileAuditStore(tmp);
    try {
      let chunk: StoredAuditRecord[] = [];
      for await (const rec of records) {
        chunk.push(rec);
        if (chunk.length === 1_000) {
          await writer.append(chunk, { durability: 'written' });
          chunk = [];
        }
      }
      await writer.append(chunk, { durability: 'written' });
    } finally {
      await writer.close();
    }
    const head = await readHead(tmp);
    const last = seen.last;
    const same = last === undefined ? head === undefined : typeof head === 'object' && head.seq === last.seq && head.hash === last.hash;
    if (!same) throw new BehalfError('audit-write-failed', 'the exported copy does not end with the same record as the source');
    const copy = await openFileAuditStore(tmp, { readOnly: true });
    const check = await copy.verify();
    await copy.close();
    if (!check.ok || check.records !== seen.count) throw new BehalfError('audit-write-failed', 'the exported copy does not verify');
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Write the trail as JSON Lines to `file` (created, never overwritten; mode 0600). */
async function exportToFile(records: AsyncIterable<StoredAuditRecord>, file: string): Promise<void> {
  const stream = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  await once(stream, 'open').catch((err: NodeJS.ErrnoException) => {
    throw new BehalfError('audit-write-failed', `cannot create ${file}: ${err.code ?? 'error'}`, { cause: err });
  });
  try {
    for await (const rec of records) {
      if (!stream.write(`${storedLine(rec)}\n`)) await once(stream, 'drain');
    }
    stream.end();
    await once(stream, 'finish');
  } catch (err) {
    stream.destroy();
    await rm(file, { force: true });
    if (err instanceof BehalfError) throw err;
    throw new BehalfError('audit-write-failed', `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
}

/** The records of an export (`.jsonl` file) or an embedded store directory, for import. */
async function importSource(from: string, note: (line: string) => void): Promise<{ records: AsyncIterable<StoredAuditRecord | string>; close: () => Promise<void> }> {
  const st = await stat(from).catch((err: NodeJS.ErrnoException) => {
    throw new BehalfError('audit-read-failed', `cannot read ${from}: ${err.code ?? 'error'}`, { cause: err });
  });
  if (st.isDirectory()) {
    const source = await openFileAuditStore(from, { readOnly: true });
    // Its head file is what tells a whole trail from one whose newest records were cut off.
    const result = await source.verify();
    for (const w of result.warnings ?? []) note(`warning: source: ${w}`);
    if (!result.ok) {
      const p = result.problem!;
      throw new BehalfError('audit-chain-broken', `import refused, nothing imported: the source does not verify (${p.kind} at seq ${p.seq}: ${p.message})`);
    }
    return { records: source.query({}), close: () => source.close() };
  }
  const lines = async function* (): AsyncGenerator<StoredAuditRecord | string> {
    for await (const l of readLines(from)) if (l.text.trim() !== '') yield parseStoredLine(l.text);
  };
  return { records: lines(), close: async () => {} };
}

function isPostgresStore(store: AuditStore): store is PostgresAuditStore {
  return typeof (store as Partial<PostgresAuditStore>).importRecords === 'function';
}

/** Add `audit export` and `audit import` to the `audit` command. */
export function registerAuditTransferCommands(audit: Command, deps: TransferDeps, withStoreFlags: (cmd: Command) => Command): void {
  withStoreFlags(audit.command('export').description('copy the whole trail, every record unchanged, to an embedded store directory or a JSON Lines file'))
    .option('--to <dir|file.jsonl>', 'a new directory (an embedded store), a file ending in .jsonl, or - for standard output', '-')
    .action(async (opts: { config: string; store?: string; to: string }, cmd: Command) => {
      const source = await deps.open(opts, true);
      const seen: { count: number; last?: StoredAuditRecord } = { count: 0 };
      try {
        const records = checkedRecords(source, seen);
        if (opts.to === '-') for await (const rec of records) deps.out(cmd, storedLine(rec));
        else if (opts.to.endsWith('.jsonl')) await exportToFile(records, resolve(opts.to));
        else await exportToDirectory(records, resolve(opts.to), seen);
      } finally {
        await source.close();
      }
      const target = opts.to === '-' ? 'standard output' : opts.to;
      const head = seen.last === undefined ? 'the trail is empty' : `head: seq ${seen.last.seq} hash ${seen.last.hash}`;
      deps.err(cmd, `exported ${seen.count} record(s) to ${target}; ${head}`);
    });

  withStoreFlags(audit.command('import').description('add the records of an export or an embedded store to the PostgreSQL trail, unchanged'))
    .requiredOption('--from <dir|file.jsonl>', 'an embedded store directory or a JSON Lines export')
    .action(async (opts: { config: string; store?: string; from: string }, cmd: Command) => {
      if ((await deps.kind(opts)) !== 'postgres') {
        throw new BehalfError('config-invalid', 'audit import writes into a PostgreSQL store (audit.store: postgres://...); to copy a trail into a directory, use behalf audit export --to <dir>');
      }
      const target = await deps.open(opts, false);
      try {
        if (!isPostgresStore(target)) throw new BehalfError('internal', 'the PostgreSQL audit store cannot import');
        const source = await importSource(opts.from, (line) => deps.err(cmd, line));
        try {
          const r = await target.importRecords(source.records);
          deps.out(cmd, `imported ${r.imported} record(s), skipped ${r.skipped} already in the trail; head: seq ${r.head.seq} hash ${r.head.hash}`);
        } finally {
          await source.close();
        }
      } finally {
        await target.close();
      }
    });
}
