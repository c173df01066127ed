import { Command, CommanderError } from 'commander';
import { registerApprovalsCommands } from './commands/approvals.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerCheckCommand } from './commands/check.js';
import { registerDevIdpCommand } from './commands/dev-idp.js';
import { registerPolicyTestCommand } from './commands/policy-test.js';
import { registerRevokeCommands } from './commands/revoke.js';
import { registerSchemaCommand } from './commands/schema.js';
import { registerServeCommand } from './commands/serve.js';
import { registerToolsCommands } from './commands/tools.js';
import { ConfigError, formatProblem, loadConfigFile, type EnvNeeds } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { processIo, type CliIo } from './io.js';

/** Reads the config file a command names; only the `${VAR}`s under `needs` must be set. */
export type ConfigLoader = (file: string, needs: EnvNeeds) => Promise<Config>;

/** Builds the `behalf` program; `io` is injected so tests run commands in-process. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('behalf')
    .description('behalf: a gateway that lets LLMs act on behalf of users')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  // Each command names what it reads (`needs`): only those `${VAR}`s must be set.
  const loadConfig: ConfigLoader = async (file, needs) => (await loadConfigFile(file, io.env, { needs })).config;
  registerServeCommand(program, io);
  registerCheckCommand(program, io);
  registerSchemaCommand(program, io);
  registerAuditCommands(program, loadConfig);
  registerPolicyTestCommand(program, loadConfig);
  registerToolsCommands(program, loadConfig);
  registerRevokeCommands(program, io);
  registerApprovalsCommands(program, io);
  registerDevIdpCommand(program, io);
  return program;
}

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<void> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // A command's own failure (`command.error`, with or without its own `behalf.*` code) keeps
      // its exit code; commander's own errors (`commander.*`) are usage errors: 2.
      if (err.code === 'commander.error' || !err.code.startsWith('commander.')) io.exit(err.exitCode);
      else if (err.exitCode !== 0) io.exit(2);
      return;
    }
    if (err instanceof ConfigError && err.problems.length > 0) {
      // One line per problem, each naming the file: one unset variable is one line.
      for (const p of err.problems) io.err(`${err.code}: ${err.file === undefined ? '' : `${err.file}: `}${formatProblem(p)}`);
    } else {
      io.err(err instanceof Error ? `${(err as { code?: string }).code ?? 'error'}: ${err.message}` : String(err));
    }
    io.exit(1);
  }
}


