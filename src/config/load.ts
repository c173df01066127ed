import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { BehalfError } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** One problem in a config file, with the path of the value at fault (`routes[1].upstream`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** A loaded, validated, deeply frozen config, and the folder its relative paths are resolved from. */
export interface LoadedConfig {
  readonly config: Config;
  readonly baseDir: string;
  readonly file: string;
}

/** Thrown by `loadConfigFile` when the file is invalid; `problems` lists every one. */
export class ConfigError extends BehalfError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[], file?: string) {
    const where = file === undefined ? 'config' : file;
    super('config-invalid', `${where}: ${problems.length} problem(s)\n${problems.map(formatProblem).join('\n')}`);
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  return p.path === '' ? p.message : `${p.path}: ${p.message}`;
}

/** `['routes', 1, 'upstream']` -> `routes[1].upstream`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

const MAX_SYNTAX_PROBLEMS = 5;

const ENV_REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${NAME}` in every string of a parsed config tree with `env[NAME]` (`$$` is a literal
 * `$`). Runs on the parsed tree, not the text, so a value can never inject YAML structure.
 * Every missing variable is reported with the path where it was referenced.
 */
export function interpolateEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  problems: ConfigProblem[],
  path: PropertyKey[] = [],
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (whole, name: string | undefined) => {
      if (name === undefined) return '$';
      const found = env[name];
      if (found === undefined) {
        problems.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
        return whole;
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, problems, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, problems, [...path, k]);
    return out;
  }
  return value;
}

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

/** Parses YAML text, interpolates `${ENV}` and validates. Collects every problem before failing. */
export function parseConfigText(text: string, env: Readonly<Record<string, string | undefined>>): { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] } {
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
  const problems: ConfigProblem[] = [];
  const interpolated = interpolateEnv(doc.toJS({ maxAliasCount: 100 }), env, problems);
  const result = validateConfig(interpolated);
  if (!result.ok) problems.push(...result.problems);
  if (problems.length > 0) return { ok: false, problems };
  return result;
}

/**
 * Reads, interpolates and validates a config file. Throws `ConfigError` (code `config-invalid`)
 * listing every problem, or `BehalfError('config-read-failed')` when the file cannot be read.
 * `env` is passed in: library code never reads `process.env` itself.
 */
export async function loadConfigFile(file: string, env: Readonly<Record<string, string | undefined>>): Promise<LoadedConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BehalfError('config-read-failed', `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  const result = parseConfigText(text, env);
  if (!result.ok) throw new ConfigError(result.problems, path);
  return { config: result.config, baseDir: dirname(path), file: path };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
