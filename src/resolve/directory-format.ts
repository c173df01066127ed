import type { DirectoryEntry } from '../authenticate/identity.js';
import { z } from 'zod';

/**
 * The directory file format, shared by the file and HTTP sources:
 *
 * ```yaml
 * users:
 *   - { id: alice, name: Alice, email: alice@example.com, department: Platform, title: Engineering Manager }
 *   - { id: bob, manager: alice, department: Platform }
 * ```
 *
 * `users` may also be a map keyed by id (`users: { alice: { department: Platform } }`, where an
 * `id` inside the entry, if given, must equal the key), and the document may be the bare list.
 * `reports` and `team` are never read from the source: they are derived (see directory-graph.ts).
 */

/** One user as written in the source, before `reports` and `team` are derived. */
export type RawDirectoryUser = Omit<DirectoryEntry, 'reports' | 'team'>;

/** A problem found while reading a directory document, with the path of the value at fault. */
export interface DirectoryProblem {
  /** `users[3].manager`, or `''` for the document itself. */
  readonly path: string;
  readonly message: string;
}

/** Ids are opaque strings, but bounded so a hostile source cannot make them the memory problem. */
const userId = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : 'must be a string') })
  .min(1, 'must not be empty').max(256, 'must be at most 256 characters');
const attribute = z.string({ error: 'must be a string' }).max(1_024, 'must be at most 1024 characters');

const KNOWN_KEYS = new Set(['id', 'name', 'email', 'manager', 'department', 'title']);

// Unknown keys are stripped (and warned about from the input), never copied, so a key such as
// "__proto__" in the source cannot reach an object's prototype.
const userSchema = z.object({
  id: userId,
  name: attribute.optional(),
  email: attribute.optional(),
  manager: userId.nullable().optional(),
  department: attribute.optional(),
  title: attribute.optional(),
});

/** The users in source order, plus warnings (unknown keys) that do not stop the load. */
export interface ParsedDirectory {
  readonly users: readonly RawDirectoryUser[];
  /** Where each user was found (`users[3]` or `users.bob`), same order as `users`. */
  readonly paths: readonly string[];
  readonly warnings: readonly DirectoryProblem[];
}

/**
 * Validates a parsed document (from YAML or JSON) and returns its users in source order.
 * Fatal problems (wrong shape, missing or duplicate ids) are returned as `problems`; an unknown
 * key is only a warning, because a directory exported from an HR system often carries more
 * fields than behalf uses.
 *
 * This does NOT check that managers exist or that the management chain has no cycle: that needs
 * the whole set and is done by `deriveTeams` in directory-graph.ts.
 */
export function parseDirectoryDocument(doc: unknown): { ok: true; value: ParsedDirectory } | { ok: false; problems: DirectoryProblem[] } {
  let list: [string, unknown, string | undefined][];
  const problems: DirectoryProblem[] = [];
  const warnings: DirectoryProblem[] = [];
  const usersField = isPlainObject(doc) && Object.hasOwn(doc, 'users') ? doc.users : undefined;
  const root = Array.isArray(doc) ? doc : usersField;
  if (isPlainObject(doc)) {
    for (const key of Object.keys(doc)) {
      if (key !== 'users') warnings.push({ path: key, message: 'unknown key, ignored' });
    }
  }
  if (Array.isArray(root)) {
    list = root.map((u, i) => [`users[${i}]`, u, undefined]);
  } else if (isPlainObject(root)) {
    // Object.entries reads own keys only, so a user called "__proto__" is just a key here.
    list = Object.entries(root).map(([key, u]) => [`users.${key}`, u, key]);
  } else {
    return { ok: false, problems: [{ path: isPlainObject(doc) ? 'users' : '', message: 'must be a list of users, or a map of users by id, under "users"' }] };
  }

  const users: RawDirectoryUser[] = [];
  const paths: string[] = [];
  const seen = new Map<string, string>();
  for (const [path, value, key] of list) {
    const input = key !== undefined && isPlainObject(value) && !Object.hasOwn(value, 'id') ? { ...value, id: key } : value;
    const parsed = userSchema.safeParse(input);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push({ path: joinPath(path, issue.path), message: issue.message });
      continue;
    }
    const u = parsed.data;
    if (key !== undefined && u.id !== key) {
      problems.push({ path: `${path}.id`, message: `must equal the map key "${key}"` });
      continue;
    }
    const first = seen.get(u.id);
    if (first !== undefined) {
      problems.push({ path: `${path}.id`, message: `duplicate id "${u.id}" (first at ${first})` });
      continue;
    }
    seen.set(u.id, path);
    for (const k of Object.keys(value as object)) {
      if (!KNOWN_KEYS.has(k)) warnings.push({ path: `${path}.${k}`, message: 'unknown key, ignored' });
    }
    users.push(pick(u));
    paths.push(path);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { users, paths, warnings } };
}

/** Copies only the known attributes, leaving absent ones absent (so CEL `has()` is false for them). */
function pick(u: z.output<typeof userSchema>): RawDirectoryUser {
  const out: { -readonly [K in keyof RawDirectoryUser]: RawDirectoryUser[K] } = { id: u.id };
  if (u.name !== undefined) out.name = u.name;
  if (u.email !== undefined) out.email = u.email;
  if (u.manager !== undefined && u.manager !== null) out.manager = u.manager;
  if (u.department !== undefined) out.department = u.department;
  if (u.title !== undefined) out.title = u.title;
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function joinPath(base: string, rest: readonly PropertyKey[]): string {
  let out = base;
  for (const part of rest) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return out;
}

/** `users[3].manager: unknown user "zed"` */
export function formatDirectoryProblem(p: DirectoryProblem): string {
  return p.path === '' ? p.message : `${p.path}: ${p.message}`;
}
