/**
 * `${NAME}` placeholders in a parsed config tree, and which of them a command needs.
 *
 * The gateway (`behalf serve`) needs every variable. A read-only command needs only those of the
 * sections it reads (`behalf audit query` reads `audit`), and `behalf check` needs none: a
 * variable that is unset outside what the command needs is replaced by a clearly fake value that
 * passes validation (`unset.invalid`, `http://unset.invalid`, `0`, ...), and reported back so the
 * command can say so. A command never uses a value it did not declare it needs.
 */

/** One problem in a config file, with the path of the value at fault (`routes[1].upstream`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * Which `${NAME}` references must be set: `'all'`, or config paths. A path names a section
 * (`audit`) or a field under it; `[]` stands for any index (`routes[].path`). A reference is
 * needed when its value's path is that path or lies under it.
 */
export type EnvNeeds = 'all' | readonly string[];

/** A variable the file references that is not set, and where (values replaced by a placeholder). */
export interface UnsetVariable {
  readonly name: string;
  readonly paths: readonly string[];
}

/**
 * What an unset variable becomes, in the order tried: each one is tried only for the values whose
 * validation failed with the one before (a name, host or relative path; a URL; a port; a long
 * secret).
 * The `.invalid` top-level domain never resolves (RFC 6761), so a placeholder cannot reach anything.
 */
export const PLACEHOLDERS = ['unset.invalid', 'http://unset.invalid', '0', `unset-${'x'.repeat(58)}`] as const;

const ENV_REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** `['routes', 1, 'upstream']` -> `routes[1].upstream`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Is `path` equal to `prefix` or inside it (`routes[0].upstream` is inside `routes[0]` and `routes`)? */
export function isUnder(path: string, prefix: string): boolean {
  return path === prefix || (path.startsWith(prefix) && (path[prefix.length] === '.' || path[prefix.length] === '['));
}

/** Does the command need the value at `path` (a formatted path with real indexes)? */
export function isNeeded(path: string, needs: EnvNeeds): boolean {
  if (needs === 'all') return true;
  const generic = path.replace(/\[\d+\]/g, '[]');
  return needs.some((n) => isUnder(generic, n));
}

/**
 * Replaces `${NAME}` in every string of a parsed config tree with `env[NAME]` (`$$` is a literal
 * `$`). Runs on the parsed tree, not the text, so a value can never inject YAML structure. An
 * unset variable becomes `placeholder(path)` and is recorded in `unset` (name -> paths).
 */
export function substituteEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  placeholder: (path: string) => string,
  unset: Map<string, string[]>,
  path: PropertyKey[] = [],
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_whole, name: string | undefined) => {
      if (name === undefined) return '$';
      const found = env[name];
      if (found !== undefined) return found;
      const at = formatPath(path);
      const paths = unset.get(name) ?? [];
      if (!paths.includes(at)) paths.push(at);
      unset.set(name, paths);
      return placeholder(at);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, placeholder, unset, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, placeholder, unset, [...path, k]);
    return out;
  }
  return value;
}

/** One problem per unset variable, at the first path that uses it (the others named in the message). */
export function unsetProblems(unset: readonly UnsetVariable[]): ConfigProblem[] {
  return unset.map(({ name, paths }) => ({
    path: paths[0] ?? '',
    message: `environment variable ${name} is not set${paths.length > 1 ? ` (also used at ${paths.slice(1).join(', ')})` : ''}`,
  }));
}
