import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { auditStoreLocation, openAuditStore } from '../../audit/auditor.js';
import { readCheckpointLines } from '../../audit/checkpoint-file.js';
import { loadCheckpointKeys } from '../../audit/checkpoint-keys.js';
import { formatHeaderLine, formatRecordLine, printable, type ClientNames } from '../../audit/format-record.js';
import { sessionRef } from '../../audit/session-ref.js';
import { inStartOrder } from '../../audit/start-order.js';
import { verifyTrail } from '../../audit/verify-checkpoints.js';
import { DEFAULTS } from '../../config/defaults.js';
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

/** `--arg name=value`, repeatable: the kept argument or query parameter `name` holds `value`. */
function argPair(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq < 1) throw usage('expected name=value, e.g. employee=bob.');
  const name = value.slice(0, eq);
  if (previous !== undefined && Object.hasOwn(previous, name)) throw usage(`"${name}" is given twice.`);
  return Object.assign(Object.create(null) as Record<string, string>, previous, { [name]: value.slice(eq + 1) });
}

/** `--session`: the MCP session id (digested as records keep it), or the `sha256:` value a record shows. */
function sessionValue(value: string): string {
  const v = nonEmpty(value);
  return /^sha256:[0-9a-f]{16}$/.test(v) ? v : sessionRef(v);
}

/** An open store, and the readable client names of the config (none with `--store`). */
interface Opened {
  readonly store: AuditStore;
  readonly names: ClientNames;
}

/** The store `--store` (relative to the working directory) or `--config`'s `audit.store` names. */
async function openFromFlags(flags: StoreFlags, loadConfig: (file: string, needs: EnvNeeds) => Promise<Config>, readOnly: boolean): Promise<AuditStore> {
  return (await openWithNames(flags, loadConfig, readOnly)).store;
}

async function openWithNames(flags: StoreFlags, loadConfig: (file: string, needs: EnvNeeds) => Promise<Config>, readOnly: boolean): Promise<Opened> {
  if (flags.store !== undefined) return { store: await openAuditStore({ store: flags.store }, { baseDir: process.cwd(), readOnly }), names: new Map() };
  const config = await loadConfig(flags.config, AUDIT_NEEDS);
  // Same base as the gateway: relative paths in a config file are relative to that file.
  const store = await openAuditStore({ store: config.audit.store }, { baseDir: dirname(resolve(flags.config)), readOnly });
  return { store, names: new Map((config.clients ?? []).map((c) => [c.id, c.name])) };
}

/** The client id `--client` means: the value itself, or the id a configured name stands for. */
function clientIdOf(value: string, names: ClientNames): string {
  if (names.has(value)) return value;
  for (const [id, name] of names) if (name === value) return id;
  return value;
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

/** The checkpoint lines of a verify report: what is vouched for, and what is not. */
function describeCheckpoints(result: VerifyResult): string[] {
  const c = result.checkpoints;
  if (c === undefined || (!c.checked && c.stored === 0)) return [];
  if (!c.checked) return [`checkpoints: ${c.stored} stored, NOT checked (no keys: give --jwks <file|url> or --key-file, or a config whose signing.keyFile is readable)`];
  const lines = [`checkpoints: ${c.stored} stored, ${c.verified} verified${c.unknownKey > 0 ? `, ${c.unknownKey} signed by unknown keys (not checked)` : ''}`];
  if (c.newest !== undefined) lines.push(`  newest verified checkpoint: record ${c.newest.seq}, signed ${c.newest.time} by key ${c.newest.kid}: records 1 to ${c.newest.seq} are vouched for`);
  else lines.push('  no verified checkpoint: no record is vouched for by a signature');
  if (c.uncovered > 0) {
    const from = (c.newest?.seq ?? 0) + 1;
    lines.push(`  not covered by a checkpoint: ${c.uncovered} record(s), ${from} to ${from + c.uncovered - 1} (a rewrite of these by someone without the key would not be detected)`);
  }
  return lines;
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
      const { store, names } = await openWithNames(opts, loadConfig, true);
      try {
        if (opts.follow !== true) {
          for await (const rec of inStartOrder(store.query({ limit: opts.lines }), DEFAULTS.auditReorderRecords)) out(cmd, formatRecordLine(rec, names));
          return;
        }
        const stop = new AbortController();
        const onSignal = (): void => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          if (store.follow === undefined) throw new BehalfError('audit-read-failed', 'this audit store cannot be followed');
          // Printed as written: a long request's line comes when it ends (its TIME is its start).
          for await (const rec of store.follow({ last: opts.lines, signal: stop.signal })) out(cmd, formatRecordLine(rec, names));
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
    .option('--request-id <id>', 'request id (the X-Request-Id the client got)', nonEmpty)
    .option('--client <id|name>', 'acting client: its id, or its name in the config\'s clients', nonEmpty)
    .option('--door <door>', 'door: http, mcp, ...', nonEmpty)
    .option('--session <id>', 'MCP session: the Mcp-Session-Id, or the sha256: value records show', sessionValue)
    .option('--upstream <id>', 'tool source or upstream id (config, or an upstreams[].id)', nonEmpty)
    .option('--arg <name=value>', 'a kept tool argument or query parameter holds this value (repeatable)', argPair)
    .addOption(new Option('--decision <decision>', 'allow or deny').choices(['allow', 'deny']))
    .option('--reason <code>', 'reason code, e.g. no-matching-rule (docs/errors.md)', reasonCode)
    .option('--since <when>', `from (inclusive): ${TIME_BOUND_HELP}`, timeBound)
    .option('--until <when>', 'to (exclusive), same forms as --since', timeBound)
    .option('--limit <count>', 'only the newest N matches', positiveInt)
    .option('--open', 'only changes with an intent record and no outcome (the backend may have acted)')
    .option('--json', 'print JSON Lines (one stored record per line)')
    .action(async (opts: StoreFlags & Omit<AuditQuery, 'args'> & { arg?: Record<string, string>; json?: boolean; open?: boolean }, cmd: Command) => {
      if (opts.since !== undefined && opts.until !== undefined && opts.since >= opts.until) {
        cmd.error('error: --since must be before --until', { exitCode: 2, code: 'behalf.audit.bad-range' });
      }
      if (opts.open === true && (opts.decision !== undefined || opts.reason !== undefined)) {
        // An outcome may be a denial (the backend failed) while its intent is an allow.
        cmd.error('error: --open cannot be combined with --decision or --reason', { exitCode: 2, code: 'behalf.audit.bad-filter' });
      }
      const { store, names } = await openWithNames(opts, loadConfig, true);
      try {
        const q: AuditQuery = {};
        for (const key of ['user', 'route', 'tool', 'decision', 'reason', 'requestId', 'door', 'session', 'upstream', 'since', 'until', 'limit'] as const) {
          if (opts[key] !== undefined) (q as Record<string, unknown>)[key] = opts[key];
        }
        if (opts.client !== undefined) q.client = clientIdOf(opts.client, names);
        if (opts.arg !== undefined) q.args = opts.arg;
        let n = 0;
        const found = opts.open === true ? openIntentsOf(store, q) : store.query(q);
        for await (const rec of inStartOrder(found, DEFAULTS.auditReorderRecords)) {
          if (opts.json === true) out(cmd, JSON.stringify(rec));
          else {
            if (n === 0) out(cmd, formatHeaderLine());
            out(cmd, formatRecordLine(rec, names));
          }
          n++;
        }
        if (n === 0 && opts.json !== true) err(cmd, 'no matching audit records');
      } finally {
        await store.close();
      }
    });

  withStoreFlags(audit.command('verify').description('recompute the hash chain, check the signed checkpoints, report the first problem'))
    .option('--json', 'print the result as JSON')
    .option('--jwks <file|url>', "the gateway's public keys to check checkpoints with (a saved JWKS or its URL; repeatable), instead of its key file", (v: string, prev: string[] = []) => [...prev, nonEmpty(v)])
    .option('--key-file <file>', "the gateway's signing key file (default: the config's signing.keyFile)", nonEmpty)
    .option('--checkpoints <file>', 'also check these checkpoints, kept outside the store (JSON Lines with a jws member each, e.g. what the webhook received)', nonEmpty)
    .option('--max-uncovered <count>', 'fail when more records than this follow the newest verified checkpoint (default: audit.checkpoints.everyRecords plus one batch)', (v: string) => (v === '0' ? 0 : positiveInt(v)))
    .action(async (opts: StoreFlags & { json?: boolean; jwks?: string[]; keyFile?: string; maxUncovered?: number; checkpoints?: string }, cmd: Command) => {
      const config = opts.store === undefined ? await loadConfig(opts.config, [...AUDIT_NEEDS, 'signing.keyFile', 'audit.checkpoints.enabled', 'audit.checkpoints.everyRecords']) : undefined;
      const baseDir = opts.store === undefined ? dirname(resolve(opts.config)) : process.cwd();
      let sources = opts.jwks ?? [];
      if (sources.length === 0 && opts.keyFile !== undefined) sources = [resolve(opts.keyFile)];
      if (sources.length === 0 && config !== undefined) {
        const file = isAbsolute(config.signing.keyFile) ? config.signing.keyFile : resolve(baseDir, config.signing.keyFile);
        if (existsSync(file)) sources = [file];
      }
      const keys = sources.length > 0 ? await loadCheckpointKeys(sources) : undefined;
      const enabled = config?.audit.checkpoints.enabled ?? true;
      const maxUncovered = opts.maxUncovered ?? (enabled ? (config?.audit.checkpoints.everyRecords ?? DEFAULTS.auditCheckpointEveryRecords) + DEFAULTS.auditBatchRecords : undefined);
      const store = await openFromFlags(opts, loadConfig, true);
      let result: VerifyResult;
      try {
        const extra = opts.checkpoints === undefined ? undefined : readCheckpointLines(resolve(opts.checkpoints), opts.checkpoints);
        if (opts.checkpoints !== undefined && !existsSync(resolve(opts.checkpoints))) throw new BehalfError('audit-read-failed', `no checkpoint file ${opts.checkpoints}`);
        result = await verifyTrail(store, { ...(keys !== undefined ? { keys } : {}), ...(maxUncovered !== undefined ? { maxUncovered } : {}), ...(extra !== undefined ? { extra } : {}) });
      } finally {
        await store.close();
      }
      if (opts.json === true) out(cmd, JSON.stringify(result));
      else if (result.ok) out(cmd, `audit trail OK: ${result.records} records`);
      else for (const line of describeProblem(result)) out(cmd, printable(line));
      if (opts.json !== true) for (const line of describeCheckpoints(result)) out(cmd, printable(line));
      if (opts.json !== true) for (const line of describeOpenIntents(result)) out(cmd, printable(line));
      if (opts.json !== true) for (const w of result.warnings ?? []) err(cmd, `warning: ${printable(w)}`);
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
