import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { BehalfError } from '../errors.js';
import type { DevUser } from './context.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const MAX_USERS = 1_000;

function strings(value: unknown, where: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw new BehalfError('config-invalid', `${where}: must be a list of non-empty strings`);
  }
  return value as string[];
}

/**
 * The demo users of a YAML or JSON text: a list (or `{ users: [...] }`) of
 * `{ id, name?, email?, roles?, groups? }`. `name` defaults to the id, `email` to `<id>@example.test`.
 *
 * DEV ONLY: these are the people anyone may sign in as at the dev IdP. This does NOT check that
 * the users exist anywhere else (the directory, the real IdP).
 *
 * @throws BehalfError `config-invalid` naming the entry at fault (`users[2].id: ...`).
 */
export function parseDevUsers(text: string, source: string): DevUser[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new BehalfError('config-invalid', `${source}: not YAML or JSON (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  const list = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as { users?: unknown }).users : doc;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_USERS) {
    throw new BehalfError('config-invalid', `${source}: expected a list of 1-${MAX_USERS} users ({ id, name, email, roles, groups })`);
  }
  const seen = new Set<string>();
  return list.map((entry: unknown, i) => {
    const where = `${source}: users[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new BehalfError('config-invalid', `${where}: must be an object with an id`);
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !['id', 'name', 'email', 'roles', 'groups'].includes(k));
    if (unknown.length > 0) throw new BehalfError('config-invalid', `${where}: unknown key(s): ${unknown.join(', ')}`);
    if (typeof e.id !== 'string' || !ID.test(e.id)) throw new BehalfError('config-invalid', `${where}.id: must be 1-64 letters, digits, ".", "_", "@" or "-"`);
    if (seen.has(e.id)) throw new BehalfError('config-invalid', `${where}.id: duplicate id "${e.id}"`);
    seen.add(e.id);
    for (const k of ['name', 'email'] as const) {
      if (e[k] !== undefined && (typeof e[k] !== 'string' || e[k] === '')) throw new BehalfError('config-invalid', `${where}.${k}: must be a non-empty string`);
    }
    const roles = strings(e.roles, `${where}.roles`);
    const groups = strings(e.groups, `${where}.groups`);
    return {
      id: e.id,
      name: (e.name as string | undefined) ?? e.id,
      email: (e.email as string | undefined) ?? `${e.id}@example.test`,
      ...(roles === undefined ? {} : { roles }),
      ...(groups === undefined ? {} : { groups }),
    };
  });
}

/** `parseDevUsers` of a file. @throws BehalfError `config-read-failed` when it cannot be read. */
export function readDevUsersFile(file: string): DevUser[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BehalfError('config-read-failed', `cannot read users file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  return parseDevUsers(text, file);
}
