import type { Command } from 'commander';
import { compilePolicy } from '../../authorize/policy.js';
import { ConfigError, formatProblem, loadConfigFile } from '../../config/load.js';
import { isBehalfError } from '../../errors.js';
import type { CliIo } from '../io.js';

/**
 * `behalf check <file>`: validates a config file (schema, env variables, policy conditions) and
 * prints every problem with its path. Exit 0 when valid, 1 when not.
 */
export function registerCheckCommand(program: Command, io: CliIo): void {
  program
    .command('check')
    .description('validate a config file and print every problem with its path')
    .argument('<file>', 'config file (YAML)')
    .action(async (file: string) => {
      const problems = await checkConfigFile(file, io.env);
      if (problems.length === 0) {
        io.out(`${file}: OK`);
        return;
      }
      for (const p of problems) io.err(p);
      io.err(`${file}: ${problems.length} problem(s)`);
      io.exit(1);
    });
}

/** Every problem in a config file as `path: message` lines (empty when valid). */
export async function checkConfigFile(file: string, env: Readonly<Record<string, string | undefined>>): Promise<string[]> {
  try {
    const loaded = await loadConfigFile(file, env);
    compilePolicy(loaded.config.policies);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    if (isBehalfError(err)) return [err.message];
    throw err;
  }
}
