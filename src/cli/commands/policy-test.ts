import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { formatCaseResult, formatSummary, loadPolicyCases, runPolicyCases } from '../../authorize/policy-cases.js';
import { compilePolicy } from '../../authorize/policy.js';
import type { EnvNeeds } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { createDirectory } from '../../resolve/directory.js';

/**
 * `behalf policy test --config <config.yaml> <cases.yaml>`: runs every case through the config's
 * policy (with its directory) and prints one line per case, then `N passed, M failed`. Fails the
 * command (non-zero exit, through commander's `error`) when any case fails.
 *
 * Output goes through the command's configured output (`configureOutput`), so a program that
 * redirects it (tests, the in-process CLI) captures it. Reuses a `policy` command if the program
 * already has one, so other `policy` subcommands can live next to `test`.
 */
/**
 * What `policy test` reads of a config file, so only these `${VAR}`s must be set: the policy, the
 * directory, and what a case is matched to a route by. Upstream URLs, issuer URLs, keys and the
 * audit store are never used (the case runner contacts nothing).
 */
export const POLICY_TEST_NEEDS = [
  'policies',
  'directory',
  'issuers[].id',
  'routes[].id',
  'routes[].path',
  'routes[].methods',
  'routes[].pathRules',
  'routes[].query',
  'tools[].name',
] as const;

export function registerPolicyTestCommand(program: Command, loadConfig: (file: string, needs: EnvNeeds) => Promise<Config>): void {
  const policy = program.commands.find((c) => c.name() === 'policy') ?? program.command('policy').description('work with the authorization policy');
  policy
    .command('test')
    .description('check that a policy gives the expected decision for each case in a YAML file')
    .argument('<cases>', 'cases file (YAML)')
    .requiredOption('-c, --config <file>', 'config file (YAML) holding the policies, routes and directory')
    .action(async (casesFile: string, options: { config: string }, command: Command) => {
      const out = (line: string) => command.configureOutput().writeOut?.(`${line}\n`);
      const config = await loadConfig(options.config, POLICY_TEST_NEEDS);
      const compiled = compilePolicy(config.policies);
      const cases = await loadPolicyCases(casesFile);
      const warnings: string[] = [];
      const directory = createDirectory(config.directory, {
        baseDir: dirname(resolve(options.config)),
        logger: {
          warn: (obj, msg) => {
            const list = (obj as { warnings?: unknown }).warnings;
            if (Array.isArray(list)) for (const w of list) warnings.push(`directory: ${String(w)}`);
            else warnings.push(msg);
          },
          info: () => {},
        },
      });
      let results;
      try {
        await directory.start();
        for (const w of warnings) command.configureOutput().writeErr?.(`warning: ${w}\n`);
        const approvalRules = new Set(config.policies.filter((p) => p.approval !== undefined).map((p) => p.id));
        results = runPolicyCases(compiled, directory.snapshot(), cases, { routes: config.routes, approvalRules });
      } finally {
        await directory.close();
      }
      for (const r of results) out(formatCaseResult(r));
      out(formatSummary(results));
      const failed = results.filter((r) => !r.passed).length;
      if (failed > 0) command.error(`${failed} policy case(s) failed`, { exitCode: 1, code: 'behalf.policy-test-failed' });
    });
}
