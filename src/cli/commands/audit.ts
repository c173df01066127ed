import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { auditStoreLocation, openAuditStore } from '../../audit/auditor.js';
import { formatHeaderLine, formatRecordLine, printable } from '../../audit/format-record.js';
import { parseTimeBound, TIME_BOUND_HELP } from '../../audit/time-bound.js';
import type { EnvNeeds } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { BehalfError } from '../../errors.js';
import { REASONS } from '../../pipeline/reasons.js';
import { suggestion } from '../close-matches.js';
import type { StoredAuditRecord } from '../../audit/record.js';
import type { AuditQuery, AuditStore, VerifyResult } from '../../stores/types.js';
import { registerAuditTransferCommands } from './audit-transfer.js';

/**
 * `behalf audit tail | query | verify | export | import`, for the embedded store and PostgreSQL
 * alike. All but `import` open the store read-only (no writer lock), so they work while the
 * gateway is writing.
 *
 * Exit codes (with the program's error mapping in cli/program.ts): 0 success; 1 `verify` found a
 * problem or the store could not be read (a `BehalfError` is thrown); 2 a bad flag value
 * (commander's `InvalidArgumentError`).
 */

/** What the audit commands read of a config file: only `audit.store`'s `${VAR}`s must be set. */
export const AUDIT_NEEDS = ['audit.store'] as const;

interface StoreFlags {
  config: string;
  store?: string;
}

/** A flag value parser that rejects with commander's usage error (exit 2). */
function usage(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message);
}

function positiveInt(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw usage('expected a whole number of at least 1.');
  return Number(value);
}

function timeBound(value: string): Date {
  const d = parseTimeBound(value, Date.now());
  if (d === undefined) throw usage(`expected ${TIME_BOUND_HELP}.`);
  return d;
}

/** A reason code as decisions and records carry it (pipeline/reasons.ts); a typo would silently match nothing. */
function reasonCode(value: string): string {
  if (Object.hasOwn(REASONS, value)) return value;
  throw usage(`not a reason code: ${suggestion(value, Object.keys(REASONS), 'docs/errors.md')}`);
}

function nonEmpty(value: string): string {
  if (value.trim() === '') throw usage('expected a non-empty value.');
  return value;
}

/** The store `--store` (relative to the working directory) or `--config`'s `audit.store` names. */
async function openFromFlags(flags: StoreFlags, loadConfig: (file: string, needs: EnvNeeds) => Promise<Config>, readOnly: boolean): Promise<AuditStore> {
  if (flags.store !== undefined) return openAuditStore({ store: flags.store }, { baseDir: process.cwd(), readOnly });
  const config = await loadConfig(flags.config, AUDIT_NEEDS);
  // Same base as the gateway: relative paths in a config file are relative to that file.
  return openAuditStore({ store: config.audit.store }, { baseDir: dirname(resolve(flags.config)), readOnly });
}

function withStoreFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file whose audit.store names the trail', 'behalf.yaml')
    .option('--store <dir|url>', 'the audit store (a directory, file:<dir> or postgres:// URL), instead of --config');
}

/**
 * The intent records of `q`'s matches that no outcome follows, oldest first, the newest
 * `q.limit`. The other filters (user, route, tool, time) hold for an intent and its outcome alike.
 */
async function* openIntentsOf(store: AuditStore, q: AuditQuery): AsyncGenerator<StoredAuditRecord> {
  const { limit, ...all } = q;
  const open = new Map<string, StoredAuditRecord>();
  for await (const rec of store.query(all)) {
    if (rec.phase === 'intent') open.set(rec.requestId, rec);
    else if (rec.phase === 'outcome') open.delete(rec.requestId);
  }
  const found = [...open.values()];
  yield* limit === undefined ? found : found.slice(-limit);
}

function describeProblem(result: VerifyResult): string[] {
  const p = result.problem;
  if (p === undefined) return [];
  const where = p.file === undefined ? '' : ` at ${p.file}${p.line === undefined ? '' : `:${p.line}`}`;
  return [`audit trail BROKEN: ${p.kind} at seq ${p.seq}${where}`, `  ${p.message}`, `  ${result.records} record(s) before it verified`];
}

/** Changes recorded as intended and never as answered: the backend may have acted on them. */
function describeOpenIntents(result: VerifyResult): string[] {
  const listed = result.openIntents ?? [];
  const total = result.openIntentCount ?? listed.length;
  if (total === 0) return [];
  const lines = [`${total} change(s) with an intent but no outcome (the gateway stopped or the trail failed while the backend had them; the backend may have acted):`];
  for (const i of listed) lines.push(`  seq ${i.seq}  ${i.time}  request ${i.requestId}`);
  if (total > listed.length) lines.push(`  and ${total - listed.length} more: behalf audit query --open`);
  return lines;
}

/**
 * Add `audit tail`, `query`, `verify`, `export` and `import` to `program`. Output goes through the
 * program's configured `writeOut`/`writeErr` (so tests capture it in-process); `loadConfig`
 * reads and validates the file named by `--config`.
 */
export function registerAuditCommands(program: Command, loadConfig: (file: string, needs: EnvNeeds) => Promise<Config>): void {
  const audit = program.command('audit').description('read and verify the audit trail');
  const out = (cmd: Command, line: string): void => {
    cmd.configureOutput().writeOut?.(`${line}\n`);
  };
  const err = (cmd: Command, line: string): void => {
    cmd.configureOutput().writeErr?.(`${line}\n`);
  };

  withStoreFlags(audit.command('tail').description('print the newest records, one line each'))
    .option('-n, --lines <count>', 'how many records', positiveInt, 20)
    .option('-f, --follow', 'keep printing new records until interrupted')
    .action(async (opts: StoreFlags & { lines: number; follow?: boolean }, cmd: Command) => {
      const store = await openFromFlags(opts, loadConfig, true);
      try {
        if (opts.follow !== true) {
          for await (const rec of store.query({ limit: opts.lines })) out(cmd, formatRecordLine(rec));
          return;
        }
        const stop = new AbortController();
        const onSignal = (): void => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          if (store.follow === undefined) throw new BehalfError('audit-read-failed', 'this audit store cannot be followed');
          for await (const rec of store.follow({ last: opts.lines, signal: stop.signal })) out(cmd, formatRecordLine(rec));
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      } finally {
        await store.close();
      }
    });

  withStoreFlags(audit.command('query').description('search the trail (all filters must match)'))
    .option('--user <id>', 'user id', nonEmpty)
    .option('--route <id>', 'route id', nonEmpty)
    .option('--tool <name>', 'tool name', nonEmpty)
    .addOption(new Option('--decision <decision>', 'allow or deny').choices(['allow', 'deny']))
    .option('--reason <code>', 'reason code, e.g. no-matching-rule (docs/errors.md)', reasonCode)
    .option('--since <when>', `from (inclusive): ${TIME_BOUND_HELP}`, timeBound)
    .option('--until <when>', 'to (exclusive), same forms as --since', timeBound)
    .option('--limit <count>', 'only the newest N matches', positiveInt)
    .option('--open', 'only changes with an intent record and no outcome (the backend may have acted)')
    .option('--json', 'print JSON Lines (one stored record per line)')
    .action(async (opts: StoreFlags & AuditQuery & { json?: boolean; open?: boolean }, cmd: Command) => {
      if (opts.since !== undefined && opts.until !== undefined && opts.since >= opts.until) {
        cmd.error('error: --since must be before --until', { exitCode: 2, code: 'behalf.audit.bad-range' });
      }
      if (opts.open === true && (opts.decision !== undefined || opts.reason !== undefined)) {
        // An outcome may be a denial (the backend failed) while its intent is an allow.
        cmd.error('error: --open cannot be combined with --decision or --reason', { exitCode: 2, code: 'behalf.audit.bad-filter' });
      }
      const store = await openFromFlags(opts, loadConfig, true);
      try {
        const q: AuditQuery = {};
        for (const key of ['user', 'route', 'tool', 'decision', 'reason', 'since', 'until', 'limit'] as const) {
          if (opts[key] !== undefined) (q as Record<string, unknown>)[key] = opts[key];
        }
        let n = 0;
        for await (const rec of opts.open === true ? openIntentsOf(store, q) : store.query(q)) {
          if (opts.json === true) out(cmd, JSON.stringify(rec));
          else {
            if (n === 0) out(cmd, formatHeaderLine());
            out(cmd, formatRecordLine(rec));
          }
          n++;
        }
        if (n === 0 && opts.json !== true) err(cmd, 'no matching audit records');
      } finally {
        await store.close();
      }
    });

  withStoreFlags(audit.command('verify').description('recompute the hash chain and report the first problem'))
    .option('--json', 'print the result as JSON')
    .action(async (opts: StoreFlags & { json?: boolean }, cmd: Command) => {
      const store = await openFromFlags(opts, loadConfig, true);
      let result: VerifyResult;
      try {
        result = await store.verify();
      } finally {
        await store.close();
      }
      if (opts.json === true) out(cmd, JSON.stringify(result));
      else if (result.ok) out(cmd, `audit trail OK: ${result.records} records`);
      else for (const line of describeProblem(result)) out(cmd, printable(line));
      if (opts.json !== true) for (const line of describeOpenIntents(result)) out(cmd, printable(line));
      if (opts.json !== true) for (const w of result.warnings ?? []) err(cmd, `warning: ${w}`);
      const p = result.problem;
      if (!result.ok && p !== undefined) {
        throw new BehalfError('audit-chain-broken', `audit trail broken: ${p.kind} at seq ${p.seq}${p.file === undefined ? '' : ` (${p.file}${p.line === undefined ? '' : `:${p.line}`})`}`);
      }
    });

  const kind = async (flags: StoreFlags): Promise<'file' | 'postgres'> => {
    const store = flags.store ?? (await loadConfig(flags.config, AUDIT_NEEDS)).audit.store;
    return auditStoreLocation(store, process.cwd()).kind;
  };
  registerAuditTransferCommands(audit, { open: (flags, readOnly) => openFromFlags(flags, loadConfig, readOnly), kind, out, err }, withStoreFlags);
}
