import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { validateConfig } from '../../src/config/load.js';

// docs/config.md is the reference of the config file: one `## \`section\`` per top-level key,
// each with a table whose rows name fields (`call.path`, `rules[].rate.limit`) and give their
// default. These tests keep it complete and right: every field of the schema (walked in the JSON
// Schema that `behalf schema` prints) has a row, every row names a field that exists, and each
// default the docs state as a literal (`8080`, `memory`, `[]`) is what the schema gives a config
// that leaves the field out (the schema takes its defaults from DEFAULTS, src/config/defaults.ts).

/** A config with one of everything, each left to its defaults where it can be. */
const MINIMAL = {
  server: { publicUrl: 'http://gateway.test' },
  issuers: [{ id: 'idp', issuer: 'https://idp.test', audience: 'http://gateway.test' }],
  directory: { file: 'directory.yaml' },
  routes: [{ id: 'hr', path: '/api/hr', upstream: 'http://hr.test' }],
  mcp: {},
  tools: [{ name: 't', call: { route: 'hr', path: '/' } }],
  upstreams: [{ id: 'u', url: 'http://u.test/mcp' }],
  policies: [{ id: 'p', effect: 'allow' }],
  limits: { rules: [{ id: 'r', concurrency: 1 }] },
  admin: { token: 'x'.repeat(32) },
};

interface Row {
  section: string;
  /** Field paths the row documents, relative to the section (an array's items: `rules[].id`). */
  fields: string[];
  /** The default column's leading `literal`, if it starts with one. */
  literal: string | undefined;
}

/**
 * The table rows of every `## \`section\`` of the docs. A first cell may name several fields:
 * `` `command` / `args` / `env` ``; a name without a dot after a dotted first name is its sibling
 * (`` `match.routes` / `tools` `` is `match.routes` and `match.tools`).
 */
function documentedRows(markdown: string): Row[] {
  const rows: Row[] = [];
  let section: string | undefined;
  for (const line of markdown.split('\n')) {
    const heading = /^## `([a-z]+)`/.exec(line);
    if (heading !== null) section = heading[1];
    else if (line.startsWith('## ')) section = undefined;
    if (section === undefined || !line.startsWith('| `')) continue;
    const [, first = '', second = ''] = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const names = [...first.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const parent = names[0]!.includes('.') ? names[0]!.slice(0, names[0]!.lastIndexOf('.') + 1) : '';
    const fields = names.map((n, i) => (i > 0 && !n.includes('.') ? parent + n : n));
    const literal = /^`([^`]*)`/.exec(second)?.[1];
    rows.push({ section, fields, literal });
  }
  return rows;
}

type JsonSchema = { properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[]; oneOf?: JsonSchema[]; allOf?: JsonSchema[]; type?: string };

const branchesOf = (node: JsonSchema): JsonSchema[] | undefined => node.anyOf ?? node.oneOf ?? node.allOf;
const hasFields = (node: JsonSchema): boolean => node.properties !== undefined || (branchesOf(node) ?? []).some(hasFields);

/**
 * Every field path under `node`: objects with declared properties are walked into (`spool.dir`),
 * as are arrays of them (`rules[].id`); anything else (a scalar, a list of scalars, a map with
 * keys of the user's choosing such as `identityHeaders`) is one field.
 */
function fieldPaths(node: JsonSchema, prefix: string, out: Set<string>): Set<string> {
  const branches = branchesOf(node);
  if (branches !== undefined && branches.some(hasFields)) {
    for (const b of branches) fieldPaths(b, prefix, out);
  } else if (node.type === 'array' && node.items !== undefined && hasFields(node.items)) {
    fieldPaths(node.items, `${prefix}[]`, out);
  } else if (node.properties !== undefined) {
    for (const [name, child] of Object.entries(node.properties)) fieldPaths(child, prefix === '' ? name : `${prefix}.${name}`, out);
  } else if (prefix !== '') out.add(prefix);
  return out;
}

/** Per top-level section, its field paths (a list section's are its items'). */
function schemaSections(): Map<string, Set<string>> {
  const schema = configJsonSchema() as JsonSchema;
  const sections = new Map<string, Set<string>>();
  for (const [name, node] of Object.entries(schema.properties ?? {})) {
    const item = node.type === 'array' && node.items !== undefined ? node.items : node;
    sections.set(name, fieldPaths(item, '', new Set()));
  }
  return sections;
}

/** A value as the docs write it: lists in brackets, plain scalars bare, the empty string `""`. */
function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  if (value === '') return '""';
  return String(value);
}

const readDocs = () => readFile(new URL('../../docs/config.md', import.meta.url), 'utf8');

describe('docs/config.md and the schema', () => {
  it('documents every field of every section of the schema', async () => {
    const rows = documentedRows(await readDocs());
    const missing: string[] = [];
    for (const [section, fields] of schemaSections()) {
      const documented = new Set(rows.filter((r) => r.section === section).flatMap((r) => r.fields));
      if (documented.size === 0) missing.push(`${section} (no "## \`${section}\`" section with a table)`);
      else for (const field of fields) if (!documented.has(field)) missing.push(`${section}.${field}`);
    }
    assert.deepEqual(missing, [], `fields of the schema not documented in docs/config.md:\n  ${missing.join('\n  ')}`);
  });

  it('documents no field the schema does not have', async () => {
    const sections = schemaSections();
    const unknown = documentedRows(await readDocs())
      .flatMap((r) => r.fields.map((f) => ({ section: r.section, field: f })))
      .filter(({ section, field }) => sections.get(section)?.has(field) !== true)
      .map(({ section, field }) => `${section}.${field}`);
    assert.deepEqual(unknown, [], `docs/config.md names fields the schema lacks:\n  ${unknown.join('\n  ')}`);
  });

  it('every literal default in the docs is what the schema (DEFAULTS) gives a config that leaves the field out', async () => {
    const result = validateConfig(MINIMAL);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
    const config = result.config as unknown as Record<string, unknown>;
    const rows = documentedRows(await readDocs()).filter((r) => r.literal !== undefined);
    assert.ok(rows.length >= 60, `only ${rows.length} documented defaults found: did the table format change?`);
    for (const { section, fields, literal } of rows) {
      // `server.maxBodyBytes` names another field, not a value.
      if (/^[a-z]+\.[A-Za-z.]+$/.test(literal!)) continue;
      const field = fields[0]!;
      let value: unknown = config[section];
      if (Array.isArray(value)) value = value[0];
      for (const part of field.split('.')) {
        value = (value as Record<string, unknown> | undefined)?.[part.replace(/\[\]$/, '')];
        if (part.endsWith('[]')) value = (value as unknown[] | undefined)?.[0];
      }
      assert.equal(show(value), literal, `${section}.${field}: docs say \`${literal}\``);
    }
  });

  it('the walk of the schema finds nested and list fields (a test that cannot fail is a defect)', () => {
    const sections = schemaSections();
    assert.ok(sections.get('limits')?.has('rules[].rate.windowSeconds'));
    assert.ok(sections.get('tools')?.has('call.path'));
    assert.ok(sections.get('issuers')?.has('claims.map.roles'));
    assert.ok(sections.get('routes')?.has('identityHeaders'));
    assert.ok(!sections.get('routes')?.has('identityHeaders.X-User-Id'));
    const rows = documentedRows('## `upstreams`\n| `command` / `args` | x |\n| `circuit.failures` / `openMs` | `3` |\n');
    assert.deepEqual(rows.map((r) => r.fields), [['command', 'args'], ['circuit.failures', 'circuit.openMs']]);
    assert.equal(rows[1]!.literal, '3');
  });
});
