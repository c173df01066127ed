import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';

// docs/config.md lists every config field with its default; the schema takes its defaults from
// DEFAULTS (src/config/defaults.ts). This keeps the two in step: each default the docs state as a
// literal (`8080`, `memory`, `[]`) is the value a config that leaves the field out gets.

/** A config with one of everything, each left to its defaults where it can be. */
const MINIMAL = {
  server: { publicUrl: 'http://gateway.test' },
  issuers: [{ id: 'idp', issuer: 'https://idp.test', audience: 'http://gateway.test' }],
  directory: { file: 'directory.yaml' },
  routes: [{ id: 'hr', path: '/api/hr', upstream: 'http://hr.test' }],
  upstreams: [{ id: 'u', url: 'http://u.test/mcp' }],
  policies: [{ id: 'p', effect: 'allow' }],
  admin: { token: 'x'.repeat(32) },
};

/** `(section, field, literal)` for every table row whose default column starts with a `literal`. */
function documentedDefaults(markdown: string): { section: string; field: string; literal: string }[] {
  const rows: { section: string; field: string; literal: string }[] = [];
  let section: string | undefined;
  for (const line of markdown.split('\n')) {
    const heading = /^## `([a-z]+)`/.exec(line);
    if (heading !== null) section = heading[1];
    else if (line.startsWith('## ')) section = undefined;
    const row = /^\| `([^`]+)`[^|]*\| `([^`]*)`/.exec(line);
    if (section === undefined || row === null) continue;
    // `server.maxBodyBytes` names another field, not a value.
    if (/^[a-z]+\.[A-Za-z.]+$/.test(row[2]!)) continue;
    rows.push({ section, field: row[1]!.replace(/\[\]$/, ''), literal: row[2]! });
  }
  return rows;
}

/** A value as the docs write it: lists in brackets, plain scalars bare. */
function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

describe('docs/config.md and the schema defaults', () => {
  it('every literal default in the docs is what the schema (DEFAULTS) gives a config that leaves the field out', async () => {
    const docs = await readFile(new URL('../../docs/config.md', import.meta.url), 'utf8');
    const result = validateConfig(MINIMAL);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
    const config = result.config as unknown as Record<string, unknown>;
    const rows = documentedDefaults(docs);
    assert.ok(rows.length >= 40, `only ${rows.length} documented defaults found: did the table format change?`);
    for (const { section, field, literal } of rows) {
      let value: unknown = config[section];
      if (Array.isArray(value)) value = value[0];
      for (const part of field.split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
      assert.equal(show(value), literal, `${section}.${field}: docs say \`${literal}\``);
    }
  });
});
