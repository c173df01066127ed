import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { argumentsPlanOf, queryPlanOf } from '../../src/audit/keep-plan.js';
import { compileKeep, keepArguments, keepQuery, MAX_KEPT_NAMES, MAX_KEPT_STRING } from '../../src/audit/kept-values.js';
import { isSecretName, looksSecret } from '../../src/audit/secret-shape.js';
import { validateConfig } from '../../src/config/load.js';
import { readQuery } from '../../src/lib/canonical-query.js';
import type { CatalogTool } from '../../src/tools/types.js';

/** What the record would hold, as it reads back from the trail (plain objects). */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null));
const digestOf = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex').slice(0, 16)}`;

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTgwMDAwMDAwMH0.MEUCIQDx7m2v3V9yJ1rWk0QpX';
const RANDOM_KEY = 'q8Zr4XwL2nPz7VbT9kYd3HsF';

describe('what a record keeps of tool arguments', () => {
  it('scalars (the default): strings, numbers, booleans and null kept; objects and arrays named in omitted', () => {
    const kept = keepArguments({ employee: 'bob', year: 2026, final: true, note: null, filter: { team: 'a' }, ids: [1, 2] }, compileKeep('scalars'));
    assert.deepEqual(plain(kept), { values: { employee: 'bob', year: 2026, final: true, note: null }, omitted: ['filter', 'ids'] });
  });

  it('replaces credentials by name or by shape with sha256:<16 hex>, and keeps ordinary ids', () => {
    const args = {
      password: 'hunter2',
      api_key: 'short',
      Authorization: 'Basic YWxpY2U6cGFzcw==',
      pin: 1234,
      note: `see ${JWT} please`,
      header: 'Bearer abc.def',
      key: RANDOM_KEY,
      hex: 'a3f1'.repeat(8),
      github: `ghp_${'A1b2'.repeat(9)}`,
      employee: '550e8400-e29b-41d4-a716-446655440000',
      user: 'employee_42',
      sentence: 'Please summarise the Q3 reviews for the platform team',
    };
    const { values } = keepArguments(args, compileKeep('scalars'))!;
    for (const name of ['password', 'api_key', 'Authorization', 'note', 'header', 'key', 'hex', 'github'] as const) {
      assert.equal(values![name], digestOf(args[name]), name);
    }
    assert.equal(values!.pin, digestOf('1234'));
    assert.equal(values!.employee, args.employee);
    assert.equal(values!.user, 'employee_42');
    assert.equal(values!.sentence, args.sentence);
  });

  it('cuts strings to 200 characters, never between the halves of a surrogate pair', () => {
    const long = 'x'.repeat(500);
    const emoji = `${'y'.repeat(MAX_KEPT_STRING - 1)}😀tail`;
    const { values } = keepArguments({ long, emoji, exact: 'z'.repeat(MAX_KEPT_STRING) }, compileKeep('scalars'))!;
    assert.equal(values!.long, `${'x'.repeat(MAX_KEPT_STRING)}…`);
    assert.equal(values!.emoji, `${'y'.repeat(MAX_KEPT_STRING - 1)}…`);
    assert.equal(values!.exact, 'z'.repeat(MAX_KEPT_STRING));
  });

  it('none keeps nothing; a list keeps the named values (objects too) and names the rest', () => {
    assert.equal(keepArguments({ employee: 'bob' }, compileKeep('none')), undefined);
    const kept = keepArguments({ employee: 'bob', year: 2026, filter: { team: 'a', token: 'x' } }, compileKeep(['employee', 'filter']));
    assert.deepEqual(plain(kept), { values: { employee: 'bob', filter: { team: 'a', token: digestOf('x') } }, omitted: ['year'] });
  });

  it('all keeps nested values with credentials digested at any depth, within 4 levels and 64 values', () => {
    const kept = keepArguments({ a: { b: { c: { d: { e: 1 } } } }, list: [{ secret: 's3cr3t' }, 'ok'], big: Array.from({ length: 100 }, (_, i) => i) }, compileKeep('all'))!;
    const v = plain(kept.values) as Record<string, unknown>;
    assert.deepEqual(v.a, { b: { c: { d: { e: '…' } } } });
    assert.deepEqual(v.list, [{ secret: digestOf('s3cr3t') }, 'ok']);
    const big = v.big as unknown[];
    assert.ok(big.length < 100 && big.at(-1) === '…', `bounded: ${big.length}`);
  });

  it('bounds the number of kept values, of omitted names, and the length of names', () => {
    const many = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i]));
    const kept = keepArguments({ ...many, ['n'.repeat(100)]: 'v' }, compileKeep('scalars'))!;
    assert.equal(Object.keys(kept.values!).length, MAX_KEPT_NAMES);
    assert.equal(kept.omitted!.length, MAX_KEPT_NAMES);
    assert.ok(!Object.keys(kept.values!).some((k) => k.length > 64));
  });

  it('a name like __proto__ is kept as a plain member, not a prototype', () => {
    const args = JSON.parse('{"__proto__":"x","employee":"bob"}') as Record<string, unknown>;
    const kept = keepArguments(args, compileKeep('scalars'))!;
    assert.equal(JSON.stringify(kept.values), '{"__proto__":"x","employee":"bob"}');
  });
});

describe('what a record keeps of a route query', () => {
  const read = (search: string, repeated: 'refuse' | 'allow' = 'refuse') => {
    const q = readQuery(search, repeated);
    assert.ok(q.ok);
    return q.query;
  };

  it('keeps decoded values by decoded name, digests credentials, names repeated parameters under scalars', () => {
    const kept = keepQuery(read('?employee=b%C3%B6b&access_token=abc&tag=x&tag=y', 'allow'), compileKeep('scalars', true));
    assert.deepEqual(plain(kept), { values: { employee: 'böb', access_token: digestOf('abc') }, omitted: ['tag'] });
    const all = keepQuery(read('?tag=x&tag=y', 'allow'), compileKeep('all', true));
    assert.deepEqual(plain(all), { values: { tag: ['x', 'y'] } });
  });

  it('named parameters match case-insensitively; an empty query keeps nothing', () => {
    assert.deepEqual(plain(keepQuery(read('?Employee=bob&year=2026'), compileKeep(['employee'], true))), { values: { Employee: 'bob' }, omitted: ['year'] });
    assert.equal(keepQuery(read(''), compileKeep('scalars', true)), undefined);
  });
});

describe('which setting applies', () => {
  const result = validateConfig({
    server: { publicUrl: 'http://gateway.test' },
    issuers: [{ id: 'idp', issuer: 'https://idp.test', audience: 'x' }],
    routes: [
      { id: 'hr', path: '/api/hr', upstream: 'http://hr.test', audit: { query: ['employee'] } },
      { id: 'plain', path: '/api/plain', upstream: 'http://hr.test' },
    ],
    tools: [
      { name: 'get_review', call: { route: 'hr', path: '/' }, audit: { arguments: 'none' } },
      { name: 'other', call: { route: 'hr', path: '/' } },
    ],
    upstreams: [{ id: 'hr-mcp', namespace: 'hr', url: 'http://u.test/mcp', audit: { arguments: 'all', tools: { send_mail: ['to'] } } }],
    audit: { arguments: ['employee'] },
  });
  assert.ok(result.ok);
  const config = result.config;
  const tool = (name: string, kind: 'http' | 'mcp', id: string) => ({ definition: { name, inputSchema: {} }, source: { id, kind } }) as unknown as CatalogTool;

  it('a tool its own, an upstream tool its per-tool or upstream setting, else audit.arguments', () => {
    assert.equal(argumentsPlanOf(config, tool('get_review', 'http', 'config')).mode, 'none');
    assert.deepEqual([...(argumentsPlanOf(config, tool('other', 'http', 'config')).names ?? [])], ['employee']);
    assert.deepEqual([...(argumentsPlanOf(config, tool('hr.send_mail', 'mcp', 'hr-mcp')).names ?? [])], ['to']);
    assert.equal(argumentsPlanOf(config, tool('hr.get_reviews', 'mcp', 'hr-mcp')).mode, 'all');
    assert.equal(argumentsPlanOf(config, undefined).mode, 'named');
  });

  it('a route its own query setting, else audit.query (scalars by default)', () => {
    assert.equal(queryPlanOf(config, config.routes[0]!).mode, 'named');
    assert.equal(queryPlanOf(config, config.routes[1]!).mode, 'scalars');
  });

  it('the config refuses a setting that is not one of them', () => {
    const bad = validateConfig({ server: { publicUrl: 'http://g.test' }, issuers: [{ id: 'i', issuer: 'https://i.test', audience: 'x' }], audit: { arguments: 'some' } });
    assert.equal(bad.ok, false);
  });
});

describe('credential shapes', () => {
  it('names and shapes', () => {
    for (const n of ['password', 'client_secret', 'refresh_token', 'apiKey', 'x-api-key', 'authorization', 'private_key', 'pin']) assert.ok(isSecretName(n), n);
    for (const n of ['employee', 'spinner', 'year', 'query']) assert.ok(!isSecretName(n), n);
    for (const v of [JWT, RANDOM_KEY, 'Bearer x1', 'AKIAIOSFODNN7EXAMPLE', 'sk_live_abcdef123456']) assert.ok(looksSecret(v), v);
    for (const v of ['bob', 'alice@example.com', '2026-12-06T10:00:00Z', 'performance_review_2026', 'hr://reviews/bob', '550e8400-e29b-41d4-a716-446655440000']) {
      assert.ok(!looksSecret(v), v);
    }
  });
});
