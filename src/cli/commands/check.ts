import type { Command } from 'commander';
import { auditStoreLocation } from '../../audit/auditor.js';
import { compilePolicy } from '../../authorize/policy.js';
import { ConfigError, formatProblem, loadConfigFile, type LoadedConfig } from '../../config/load.js';
import { isBehalfError } from '../../errors.js';
import { compileHttpTools } from '../../tools/http-tool.js';
import { compileOutgoingHeaders } from '../../forward/identity/outgoing-headers.js';
import type { CliIo } from '../io.js';

/**
 * `behalf check <file>`: validates a config file (schema, env variables, policy conditions,
 * identity header templates, the audit store location, tool schemas and call templates) and
 * prints every problem with its path. Exit 0 when valid, 1 when not.
 *
 * An unset `${VAR}` is a warning, not a problem, so CI can check a file without its secrets: the
 * values that use it are checked with a fake placeholder (`unset.invalid`, ...), and the
 * warning says so. `--require-env` makes it a problem, as `behalf serve` does.
 *
 * This does NOT load the directory, the signing key file or the audit trail, nor contact an
 * identity provider or the audit database: `behalf serve` can still refuse to start for those.
 */
export function registerCheckCommand(program: Command, io: CliIo): void {
  program
    .command('check')
    .description('validate a config file and print every problem with its path')
    .argument('<file>', 'config file (YAML)')
    .option('--require-env', 'an unset ${VAR} is a problem (exit 1), as for behalf serve; default: a warning')
    .action(async (file: string, opts: { requireEnv?: boolean }) => {
      const problems = await checkConfigFile(file, io.env, { requireEnv: opts.requireEnv === true, warn: (line) => io.err(`warning: ${line}`) });
      if (problems.length === 0) {
        io.out(`${file}: OK`);
        return;
      }
      for (const p of problems) io.err(p);
      io.err(`${file}: ${problems.length} problem(s)`);
      io.exit(1);
    });
}

/** How `checkConfigFile` treats unset `${VAR}`s. */
export interface CheckEnvOptions {
  /** An unset variable is a problem (as for `behalf serve`). Default false: a warning. */
  readonly requireEnv?: boolean;
  /** Where warnings go (`path: message` lines). Default: dropped. */
  readonly warn?: (line: string) => void;
}

/** Every problem in a config file as `path: message` lines (empty when valid). */
export async function checkConfigFile(file: string, env: Readonly<Record<string, string | undefined>>, opts: CheckEnvOptions = {}): Promise<string[]> {
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfigFile(file, env, { needs: opts.requireEnv === true ? 'all' : [] });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    if (isBehalfError(err)) return [err.message];
    throw err;
  }
  const { config, baseDir } = loaded;
  for (const v of loaded.unset ?? []) {
    opts.warn?.(`${v.paths.join(', ')}: environment variable ${v.name} is not set; checked with a placeholder value (behalf serve needs it)`);
  }
  // The checks `serve` makes at start that need no I/O, each run on its own so one failure
  // does not hide the next: a file `check` passes must not be refused by `serve` for these.
  const checks: (() => unknown)[] = [
    () => compilePolicy(config.policies),
    ...config.routes.map((route) => () => compileOutgoingHeaders(route, { publicUrl: config.server.publicUrl, serverStripHeaders: config.server.stripHeaders })),
    // A directory, file:<dir>, or a postgres:// URL (parsed, not connected to).
    () => auditStoreLocation(config.audit.store, baseDir),
    // Tool input/output schemas (ajv) and call templates: `tools[1].inputSchema: ...`.
    () => compileHttpTools(config),
  ];
  const problems: string[] = [];
  for (const check of checks) {
    try {
      check();
    } catch (err) {
      if (!isBehalfError(err)) throw err;
      problems.push(...err.message.split('\n'));
    }
  }
  return problems;
}
