import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkConfigFile } from '../../../src/cli/commands/check.js';
import { isBehalfError } from '../../../src/errors.js';
import { compileHttpTools } from '../../../src/tools/http-tool.js';
import { buildToolCatalog } from '../../../src/tools/catalog.js';
import type { ToolDefinition, ToolSource } from '../../../src/tools/types.js';
import { compileArgumentValidators, MAX_MESSAGE_CHARS } from '../../../src/screen/validate-arguments.js';
import { testConfig } from './helpers.js';

const config: ToolSource = { id: 'config', kind: 'http', call: async () => ({ content: [] }) };
const upstream: ToolSource = { id: 'hr', kind: 'mcp', call: async () => ({ content: [] }) };

const addReview: ToolDefinition = {
  name: 'add_review',
  inputSchema: {
    type: 'object',
    properties: {
      employee: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' },
      rating: { type: 'string', enum: ['exceeds', 'meets', 'below'] },
      summary: { type: 'string', maxLength: 20 },
      email: { type: 'string', format: 'email' },
      address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
    required: ['employee', 'rating'],
    additionalProperties: false,
  },
};

function validators(defs: ToolDefinition[], source: ToolSource = config) {
  return compileArgumentValidators(buildToolCatalog([{ source, definitions: defs }]));
}

describe('argument validation', () => {
  const v = validators([addReview, { name: 'anything', inputSchema: { type: 'object' } }]);

  it('valid arguments pass unchanged; absent arguments are {}', () => {
    const args = { employee: 'bob', rating: 'meets' };
    const r = v.validate('add_review', args);
    assert.deepEqual(r, { ok: true, args });
    assert.deepEqual(v.validate('anything', undefined), { ok: true, args: {} });
  });

  it('messages name the field and never echo the value', () => {
    const cases: [unknown, string][] = [
      [{ rating: 'meets' }, 'missing required argument "employee"'],
      [{ employee: 42, rating: 'meets' }, '/employee: must be string'],
      [{ employee: 'bob', rating: 'great' }, '/rating: must be one of "exceeds", "meets", "below"'],
      [{ employee: 'bob', rating: 'meets', admin: true }, 'unknown argument "admin"'],
      [{ employee: 'bob', rating: 'meets', email: 'not-an-email' }, '/email: must match format "email"'],
      [{ employee: 'bob', rating: 'meets', address: {} }, '/address: missing required property "city"'],
      [{ employee: '../etc', rating: 'meets' }, '/employee: must match pattern "^[a-z0-9-]{1,64}$"'],
    ];
    for (const [args, message] of cases) assert.deepEqual(v.validate('add_review', args), { ok: false, message }, JSON.stringify(args));
    const secret = 'S3CRET-'.repeat(10);
    const r = v.validate('add_review', { employee: 'bob', rating: 'meets', summary: secret });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && !r.message.includes('S3CRET'), 'the value is not quoted');
  });

  it('several problems in one bounded line; huge or odd property names are cut and cannot break the line', () => {
    const r = v.validate('add_review', { [`${'k'.repeat(10_000)}\nx`]: 1, employee: 1, rating: 2, summary: 3, email: 4, address: 5 });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.ok(r.message.length <= MAX_MESSAGE_CHARS, `${r.message.length} chars`);
    assert.ok(!r.message.includes('\n'));
    assert.match(r.message, /^unknown argument "k{63}…"; \/employee: must be string; \/rating: must be string/);
  });

  it('arguments must be an object', () => {
    for (const args of [null, [], 'x', 3, true]) assert.deepEqual(v.validate('anything', args), { ok: false, message: 'arguments must be an object' });
    assert.deepEqual(v.validate('nope', {}), { ok: false, message: 'unknown tool' });
  });

  it('draft-07 schemas (as many MCP servers send) are understood', () => {
    const d7 = validators(
      [{ name: 'hr.find', inputSchema: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } }],
      upstream,
    );
    assert.deepEqual(d7.validate('hr.find', {}), { ok: false, message: 'missing required argument "q"' });
  });

  it('an invalid config schema stops the start; an upstream\'s only makes that tool uncallable', () => {
    const broken: ToolDefinition = { name: 'broken', inputSchema: { type: 'object', properties: { a: { type: 'strnig' } } } };
    assert.throws(() => validators([broken]), (err: unknown) => isBehalfError(err, 'config-invalid') && /^tool "broken" inputSchema: schema is invalid/.test(err.message));
    const fromUpstream = validators([broken], upstream);
    assert.deepEqual(fromUpstream.validate('broken', { a: 'x' }), { ok: false, message: 'the tool\'s input schema is invalid' });
  });

  it('a refreshed upstream tool gets its new schema', () => {
    const catalog = buildToolCatalog([{ source: upstream, definitions: [{ name: 'hr.x', inputSchema: { type: 'object' } }] }]);
    const vs = compileArgumentValidators(catalog);
    assert.equal(vs.validate('hr.x', { a: 1 }).ok, true);
    catalog.replaceSource('hr', [{ name: 'hr.x', inputSchema: { type: 'object', additionalProperties: false } }]);
    assert.deepEqual(vs.validate('hr.x', { a: 1 }), { ok: false, message: 'unknown argument "a"' });
  });
});

describe('tool config errors at start and in `behalf check`', () => {
  const route = { id: 'hr', path: '/api/hr', upstream: 'http://127.0.0.1:9/v1' };

  it('compileHttpTools names every problem with its config path', () => {
    const cfg = testConfig({
      routes: [route],
      tools: [
        { name: 'a', inputSchema: { type: 'object', properties: { x: { type: 'nope' } } }, call: { route: 'hr', path: '/a' } },
        { name: 'b', inputSchema: { type: 'object', properties: { id: { type: 'string' } } }, call: { route: 'hr', path: '/b/{id}/{other}', body: { x: '{id' } } },
        { name: 'c', inputSchema: { type: 'array' }, call: { route: 'hr', path: '/c?x=1' } },
      ],
    });
    assert.throws(
      () => compileHttpTools(cfg),
      (err: unknown) => {
        assert.ok(isBehalfError(err, 'config-invalid'));
        const lines = err.message.split('\n');
        assert.match(lines[0]!, /^tools\[0\]\.inputSchema: schema is invalid: data\/properties\/x\/type must be/);
        assert.deepEqual(lines.slice(1), [
          'tools[1].call.path: {id} is in the path, so inputSchema.required must list it',
          'tools[1].call.path: {other} is not an argument of the tool (inputSchema.properties)',
          'tools[1].call.body: a GET request carries no body',
          'tools[1].call.body.x: "{" without "}"',
          'tools[2].inputSchema: must describe an object ("type": "object")',
          'tools[2].call.path: "/c?x=1" holds characters not allowed in a path (put a query in call.query)',
        ]);
        return true;
      },
    );
  });

  it('`behalf check` reports an invalid inputSchema with its path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'behalf-check-tools-'));
    try {
      const file = join(dir, 'behalf.yaml');
      await writeFile(
        file,
        `server: { publicUrl: "https://gw.example" }
issuers:
  - { id: idp, issuer: "https://idp.example", audience: "https://gw.example", jwksUri: "https://idp.example/jwks" }
routes:
  - { id: hr, path: /api/hr, upstream: "http://127.0.0.1:9/v1" }
tools:
  - name: get_reviews
    inputSchema: { type: object, properties: { employee: { type: strnig } } }
    call: { route: hr, path: /reviews }
audit: { store: ${JSON.stringify(join(dir, 'audit'))} }
`,
      );
      const problems = await checkConfigFile(file, {});
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /^tools\[0\]\.inputSchema: schema is invalid: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
