import { Command, CommanderError } from 'commander';
import { registerAuditCommands } from './commands/audit.js';
import { registerCheckCommand } from './commands/check.js';
import { registerPolicyTestCommand } from './commands/policy-test.js';
import { registerRevokeCommands } from './commands/revoke.js';
import { registerSchemaCommand } from './commands/schema.js';
import { registerServeCommand } from './commands/serve.js';
import { registerToolsCommands } from './commands/tools.js';
import { loadConfigFile } from '../config/load.js';
import { processIo, type CliIo } from './io.js';

/** Builds the `behalf` program; `io` is injected so tests run commands in-process. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('behalf')
    .description('behalf: a gateway that lets LLMs act on behalf of users')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  const loadConfig = async (file: string) => (await loadConfigFile(file, io.env)).config;
  registerServeCommand(program, io);
  registerCheckCommand(program, io);
  registerSchemaCommand(program, io);
  registerAuditCommands(program, loadConfig);
  registerPolicyTestCommand(program, loadConfig);
  registerToolsCommands(program, loadConfig);
  registerRevokeCommands(program, io);
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
    io.err(err instanceof Error ? `${(err as { code?: string }).code ?? 'error'}: ${err.message}` : String(err));
    io.exit(1);
  }
}


