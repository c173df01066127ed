import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { EnvNeeds } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { BehalfError } from '../../errors.js';
import { changedFields } from '../../mcp-upstream/pinning.js';
import { readPinsFile, toolPinsFile, updatePinsFile, type PinEntry } from '../../mcp-upstream/pinning-file.js';

/**
 * `behalf tools pins [name]` and `behalf tools accept <name...> | --all`: review and accept the
 * definitions of upstream MCP tools (docs/mcp.md, "Tool pinning"). They work on the pins file
 * (`tool-pins.json` next to `signing.keyFile`) while the gateway runs: the gateway re-reads it
 * within seconds (and before each re-listing), so an accepted tool is served again without a
 * restart.
 *
 * Exit codes: 0 success; 1 a name without a pending change, or an unreadable file (a
 * `tool-pins-invalid` fault, printed as `code: message`); 2 usage errors.
 */

/** What the pins commands read of a config file: `signing.keyFile` locates the pins file. */
export const TOOLS_NEEDS = ['signing.keyFile'] as const;

interface ToolsFlags {
  config: string;
}

const short = (hash: string) => hash.slice(0, 8);

async function pinsFileOf(flags: ToolsFlags, loadConfig: (file: string, needs: EnvNeeds) => Promise<Config>): Promise<string> {
  const config = await loadConfig(flags.config, TOOLS_NEEDS);
  // Same base as the gateway: relative paths in a config file are relative to that file.
  return toolPinsFile(config, dirname(resolve(flags.config)));
}

function statusOf(entry: PinEntry): string {
  const p = entry.pending;
  if (p === undefined) return 'ok';
  const fields = changedFields(entry.definition, p.definition).join(', ') || 'definition';
  return `CHANGED: now ${short(p.hash)} (${fields}), seen ${p.seenAt}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

/** Adds `tools pins` and `tools accept` to `program`; `loadConfig` reads the file named by `--config`. */
export function registerToolsCommands(program: Command, loadConfig: (file: string, needs: EnvNeeds) => Promise<Config>): void {
  const tools = program.command('tools').description('review and accept the pinned definitions of upstream MCP tools');
  const out = (cmd: Command, line: string): void => {
    cmd.configureOutput().writeOut?.(`${line}\n`);
  };

  tools
    .command('pins')
    .description('list pinned tools and pending definition changes; with a name, show both definitions')
    .argument('[name]', 'a tool name (e.g. hr.get_reviews): print its pinned and pending definitions as JSON')
    .option('-c, --config <file>', 'config file (its signing.keyFile locates tool-pins.json)', 'behalf.yaml')
    .option('--json', 'print the whole pins file as JSON')
    .action(async (name: string | undefined, opts: ToolsFlags & { json?: boolean }, cmd: Command) => {
      const file = await pinsFileOf(opts, loadConfig);
      const doc = await readPinsFile(file);
      if (name !== undefined) {
        const entry = doc.tools.get(name);
        if (entry === undefined) throw new BehalfError('tool-pins-invalid', `no pin for tool "${name}" in ${file}`);
        const { pending, ...pinned } = entry;
        const view = { name, upstream: entry.upstream, pinned, ...(pending !== undefined ? { pending, changed: changedFields(entry.definition, pending.definition) } : {}) };
        out(cmd, JSON.stringify(view, null, 2));
        return;
      }
      if (opts.json === true) {
        out(cmd, JSON.stringify({ version: 1, tools: Object.fromEntries([...doc.tools].sort(([a], [b]) => (a < b ? -1 : 1))) }, null, 2));
        return;
      }
      if (doc.tools.size === 0) {
        out(cmd, `no tools pinned yet (${file})`);
        return;
      }
      const names = [...doc.tools.keys()].sort();
      const rows = [['tool', 'upstream', 'pin', 'pinned at', 'status']];
      for (const n of names) {
        const e = doc.tools.get(n)!;
        rows.push([n, e.upstream, short(e.hash), e.pinnedAt, statusOf(e)]);
      }
      for (const line of table(rows)) out(cmd, line);
      const pending = names.filter((n) => doc.tools.get(n)!.pending !== undefined);
      out(cmd, `${names.length} tool(s) pinned, ${pending.length} with a pending change${pending.length > 0 ? ' (review: behalf tools pins <name>; accept: behalf tools accept <name>)' : ''}`);
    });

  tools
    .command('accept')
    .description('pin the pending (changed) definition of the named tools, or of all with --all')
    .argument('[names...]', 'tool names, e.g. hr.get_reviews')
    .option('-c, --config <file>', 'config file (its signing.keyFile locates tool-pins.json)', 'behalf.yaml')
    .option('--all', 'accept every pending change')
    .option('--hash <prefix>', 'accept only if the pending definition hash starts with this (as printed by `tools pins`)')
    .action(async (names: string[], opts: ToolsFlags & { all?: boolean; hash?: string }, cmd: Command) => {
      if ((opts.all === true) === names.length > 0) cmd.error('error: name the tools to accept, or pass --all (not both)', { exitCode: 2, code: 'behalf.tools.usage' });
      if (opts.hash !== undefined && (names.length !== 1 || !/^[0-9a-f]{4,64}$/.test(opts.hash))) {
        cmd.error('error: --hash takes 4-64 lowercase hex digits and exactly one tool name', { exitCode: 2, code: 'behalf.tools.usage' });
      }
      const file = await pinsFileOf(opts, loadConfig);
      const accepted: string[] = [];
      await updatePinsFile(file, (doc) => {
        const chosen = opts.all === true ? [...doc.tools.keys()].filter((n) => doc.tools.get(n)!.pending !== undefined).sort() : names;
        for (const n of chosen) {
          const p = doc.tools.get(n)?.pending;
          if (p === undefined) throw new BehalfError('tool-pins-invalid', `tool "${n}" has no pending change to accept (see behalf tools pins)`);
          if (opts.hash !== undefined && !p.hash.startsWith(opts.hash)) {
            throw new BehalfError('tool-pins-invalid', `tool "${n}": the pending definition is now ${short(p.hash)}, not ${opts.hash}; review it again`);
          }
        }
        if (chosen.length === 0) return undefined;
        const next = new Map(doc.tools);
        const at = new Date().toISOString();
        for (const n of chosen) {
          const e = doc.tools.get(n)!;
          const p = e.pending!;
          next.set(n, { upstream: e.upstream, hash: p.hash, pinnedAt: at, definition: p.definition });
          accepted.push(`accepted ${n}: ${short(e.hash)} -> ${short(p.hash)}`);
        }
        return { tools: next };
      });
      if (accepted.length === 0) out(cmd, 'no pending changes');
      for (const line of accepted) out(cmd, line);
    });
}
