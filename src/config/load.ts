import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { BehalfError } from '../errors.js';
import { formatPath, isNeeded, isUnder, PLACEHOLDERS, substituteEnv, unsetProblems, type ConfigProblem, type EnvNeeds, type UnsetVariable } from './env-vars.js';
import { configSchema, type Config } from './schema.js';

export type { ConfigProblem, EnvNeeds, UnsetVariable } from './env-vars.js';
export { formatPath } from './env-vars.js';

/** A loaded, validated, deeply frozen config, and the folder its relative paths are resolved from. */
export interface LoadedConfig {
  readonly config: Config;
  readonly baseDir: string;
  readonly file: string;
  /**
   * Variables the file references that are not set, outside what the caller needs: their values
   * hold a fake placeholder (`unset.invalid`, ...) and must not be used. Empty with
   * `needs: 'all'` (the default); `startGateway` refuses a config that has any.
   */
  readonly unset?: readonly UnsetVariable[];
}

/** How to load a config file. */
export interface LoadOptions {
  /**
   * Which `${NAME}` references must be set (env-vars.ts): default `'all'`, as the gateway needs.
   * A read-only command passes the sections it reads.
   */
  readonly needs?: EnvNeeds;
}

/** Thrown by `loadConfigFile` when the file is invalid; `problems` lists every one. */
export class ConfigError extends BehalfError {
  readonly problems: readonly ConfigProblem[];
  /** The file's absolute path, when the problems come from a file. */
  readonly file: string | undefined;
  constructor(problems: readonly ConfigProblem[], file?: string) {
    const where = file === undefined ? 'config' : file;
    super('config-invalid', `${where}: ${problems.length} problem(s)\n${problems.map(formatProblem).join('\n')}`);
    this.problems = problems;
    this.file = file;
  }
}

export function formatProblem(p: ConfigProblem): string {
  return p.path === '' ? p.message : `${p.path}: ${p.message}`;
}

const MAX_SYNTAX_PROBLEMS = 5;

function zodProblems(error: z.ZodError): ConfigProblem[] {
  return error.issues.map((issue) => {
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown key(s): ${issue.keys.join(', ')}`;
    return { path: formatPath(issue.path), message };
  });
}

/** Validates a plain object (already parsed and interpolated). Never throws for bad input. */
export function validateConfig(raw: unknown): { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] } {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error) };
  return { ok: true, config: deepFreeze(parsed.data) };
}

/**
 * Parses YAML text, fills in `${ENV}` and validates. Collects every problem before failing.
 *
 * An unset variable the caller needs (`opts.needs`, default all) is one problem, at the first path
 * that uses it, and the values that use it are not checked further (one variable, one line). An
 * unset variable the caller does not need is replaced by a fake value that validates (tried in the
 * order of `PLACEHOLDERS`, per value) and returned in `unset`.
 */
export function parseConfigText(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  opts: LoadOptions = {},
): { ok: true; config: Config; unset: UnsetVariable[] } | { ok: false; problems: ConfigProblem[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // One misplaced bracket can cascade into dozens of errors: the first few locate it.
    const shown = doc.errors.slice(0, MAX_SYNTAX_PROBLEMS).map((e) => ({
      path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
      message: (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, ''),
    }));
    const more = doc.errors.length - shown.length;
    return { ok: false, problems: more > 0 ? [...shown, { path: '', message: `(${more} more YAML syntax errors after these)` }] : shown };
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const needs = opts.needs ?? 'all';
  // Which placeholder each value with an unset variable gets; a value is moved to the next one
  // only when it failed validation with its current one.
  const choice = new Map<string, number>();
  let unset = new Map<string, string[]>();
  let result = validateConfig(raw);
  for (let round = 0; round < PLACEHOLDERS.length; round++) {
    unset = new Map();
    const filled = substituteEnv(raw, env, (at) => PLACEHOLDERS[choice.get(at) ?? 0]!, unset);
    result = validateConfig(filled);
    if (result.ok) break;
    let moved = false;
    for (const at of new Set([...unset.values()].flat())) {
      const i = choice.get(at) ?? 0;
      if (i + 1 < PLACEHOLDERS.length && result.problems.some((p) => isUnder(p.path, at))) {
        choice.set(at, i + 1);
        moved = true;
      }
    }
    if (!moved) break;
  }
  const missing = [...unset].map(([name, paths]) => ({ name, paths }));
  const required = missing
    .map(({ name, paths }) => ({ name, paths: paths.filter((p) => isNeeded(p, needs)) }))
    .filter((v) => v.paths.length > 0);
  const unneeded = missing
    .map(({ name, paths }) => ({ name, paths: paths.filter((p) => !isNeeded(p, needs)) }))
    .filter((v) => v.paths.length > 0);
  const problems: ConfigProblem[] = unsetProblems(required);
  if (!result.ok) {
    const requiredPaths = required.flatMap((v) => v.paths);
    for (const p of result.problems) {
      if (requiredPaths.some((at) => isUnder(p.path, at))) continue;
      const blamed = unneeded.filter((v) => v.paths.some((at) => isUnder(p.path, at))).map((v) => v.name);
      problems.push(blamed.length === 0 ? p : { path: p.path, message: `${p.message} (checked with ${blamed.join(', ')} unset)` });
    }
  }
  if (problems.length > 0 || !result.ok) return { ok: false, problems };
  return { ok: true, config: result.config, unset: unneeded };
}

/**
 * Reads, fills in `${ENV}` (only `opts.needs` must be set; default all) and validates a config file. Throws `ConfigError` (code `config-invalid`)
 * listing every problem, or `BehalfError('config-read-failed')` when the file cannot be read.
 * `env` is passed in: library code never reads `process.env` itself.
 */
export async function loadConfigFile(file: string, env: Readonly<Record<string, string | undefined>>, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BehalfError('config-read-failed', `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  const result = parseConfigText(text, env, opts);
  if (!result.ok) throw new ConfigError(result.problems, path);
  return { config: result.config, baseDir: dirname(path), file: path, unset: result.unset };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
