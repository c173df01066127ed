import type { Command } from 'commander';
import { ConfigError, formatProblem, loadConfigFile } from '../../config/load.js';
import { isBehalfError } from '../../errors.js';
import { startGateway } from '../../gateway.js';
import type { CliIo } from '../io.js';

/** `behalf serve --config <file>`: refuses to start on an invalid file, with the same messages as `check`. */
export function registerServeCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('run the gateway')
    .option('-c, --config <file>', 'config file', 'behalf.yaml')
    .action(async (opts: { config: string }) => {
      let gateway;
      try {
        gateway = await startGateway(await loadConfigFile(opts.config, io.env));
      } catch (err) {
        if (err instanceof ConfigError) {
          for (const p of err.problems) io.err(formatProblem(p));
          io.err(`${opts.config}: ${err.problems.length} problem(s); not starting`);
        } else if (isBehalfError(err)) {
          io.err(`${err.code}: ${err.message}; not starting`);
        } else {
          throw err;
        }
        io.exit(1);
        return;
      }
      const running = gateway;
      const stop = () => {
        void running.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
