import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { checkConfig, formatFinding, type ConfigFinding } from './check-config.js';

/**
 * `behalf check <file> [--json]`: validates a config file and prints every problem with its path,
 * all in one run (check-config.ts says what is checked). Errors go to stderr as `path: message`,
 * then warnings (`warning: ...`) and notes (`note: ...`), then a count; `<file>: OK` on stdout
 * when there is no error. `--json` prints one object on stdout instead:
 * `{ file, ok, errors, warnings, notes, findings: [{ severity, path, message }] }`.
 * Exit 1 when there is an error, else 0 (warnings and notes do not fail the check).
 *
 * An unset `${VAR}` is a warning, not a problem, so CI can check a file without its secrets: the
 * values that use it are checked with a fake placeholder (`unset.invalid`, ...), and the
 * warning says so. `--require-env` makes it a problem, as `behalf serve` does.
 *
 * This does NOT load the directory, the signing key file or the audit trail, nor contact an
 * identity provider, an upstream or the audit database: `behalf serve` can still refuse to start
 * for those.
 */
export function registerCheckCommand(program: Command, io: CliIo): void {
  program
    .command('check')
    .description('validate a config file and print every problem with its path')
    .argument('<file>', 'config file (YAML)')
    .option('--require-env', 'an unset ${VAR} is a problem (exit 1), as for behalf serve; default: a warning')
    .option('--json', 'print the findings as one JSON object on stdout')
    .action(async (file: string, opts: { json?: boolean; requireEnv?: boolean }) => {
      const findings = await checkConfig(file, io.env, { requireEnv: opts.requireEnv === true });
      const count = (s: ConfigFinding['severity']) => findings.filter((f) => f.severity === s).length;
      const errors = count('error');
      if (opts.json === true) {
        io.out(JSON.stringify({ file, ok: errors === 0, errors, warnings: count('warning'), notes: count('note'), findings }));
      } else {
        const order: ConfigFinding['severity'][] = ['error', 'warning', 'note'];
        for (const severity of order) for (const f of findings) if (f.severity === severity) io.err(formatFinding(f));
        const warnings = count('warning');
        const extra = warnings === 0 ? '' : `${errors === 0 ? ' (' : ', '}${warnings} warning(s)${errors === 0 ? ')' : ''}`;
        if (errors === 0) io.out(`${file}: OK${extra}`);
        else io.err(`${file}: ${errors} problem(s)${extra}`);
      }
      if (errors > 0) io.exit(1);
    });
}

/** The errors in a config file as `path: message` lines (empty when valid); warnings and notes left out. */
export async function checkConfigFile(file: string, env: Readonly<Record<string, string | undefined>>): Promise<string[]> {
  return (await checkConfig(file, env)).filter((f) => f.severity === 'error').map(formatFinding);
}
