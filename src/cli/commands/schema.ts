import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { configJsonSchema } from '../../config/json-schema.js';
import type { CliIo } from '../io.js';

/** `behalf schema [--out file]`: prints the config's JSON Schema (for editors and CI linters). */
export function registerSchemaCommand(program: Command, io: CliIo): void {
  program
    .command('schema')
    .description('print the JSON Schema of the config file')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (opts: { out?: string }) => {
      const text = JSON.stringify(configJsonSchema(), null, 2);
      if (opts.out === undefined) io.out(text);
      else await writeFile(opts.out, `${text}\n`);
    });
}
