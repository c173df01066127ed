import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity } from '../../src/authenticate/identity.js';
import { limitsSchema } from '../../src/config/schema.js';
import { bucketName } from '../../src/limit/bucket-key.js';
import { parseCost } from '../../src/limit/limiter.js';
import { periodOf } from '../../src/limit/periods.js';
import { compileRules, type LimitSubject } from '../../src/limit/rules.js';

const who = (id: string, extra: Partial<Identity> = {}): Identity => ({ id, issuer: 'https://idp.example', issuerId: 'idp', roles: [], groups: [], scopes: [], expiresAt: 0, ...extra });
const rules = (input: unknown[]) => compileRules(limitsSchema.parse({ rules: input }).rules);

describe('limit rules', () => {
  it('routes match HTTP routes only, tools MCP tools only, methods the HTTP method; no match applies to everything', () => {
    const [byRoute, byTool, byMethod, all] = rules([
      { id: 'r', match: { routes: ['hr'] }, rate: { limit: 1, windowSeconds: 1 } },
      { id: 't', match: { tools: ['hr.search'] }, rate: { limit: 1, windowSeconds: 1 } },
      { id: 'm', match: { methods: ['post'] }, rate: { limit: 1, windowSeconds: 1 } },
      { id: 'a', rate: { limit: 1, windowSeconds: 1 } },
    ]);
    const http: LimitSubject = { door: 'http', identity: who('alice'), route: 'hr', method: 'GET' };
    const mcp: LimitSubject = { door: 'mcp', identity: who('alice'), tool: 'hr.search', method: 'POST' };
    assert.deepEqual([byRoute!.applies(http), byRoute!.applies(mcp)], [true, false]);
    assert.deepEqual([byTool!.applies(http), byTool!.applies(mcp)], [false, true]);
    assert.deepEqual([byMethod!.applies(http), byMethod!.applies(mcp)], [false, true]);
    assert.deepEqual([all!.applies(http), all!.applies(mcp)], [true, true]);
  });

  it('buckets follow the key parts: per user by default; per tenant shares across users; the issuer is part of the user', () => {
    const [perUser, perTenant] = rules([
      { id: 'u', rate: { limit: 1, windowSeconds: 1 } },
      { id: 't', key: ['tenant'], rate: { limit: 1, windowSeconds: 1 } },
    ]);
    const s = (identity: Identity): LimitSubject => ({ door: 'http', identity, route: 'hr', method: 'GET' });
    const alice = who('alice', { tenant: 'acme' });
    const bob = who('bob', { tenant: 'acme' });
    const otherIdpAlice = who('alice', { issuer: 'https://other-idp.example', tenant: 'acme' });
    assert.notEqual(perUser!.bucket(s(alice)), perUser!.bucket(s(bob)));
    assert.equal(perUser!.bucket(s(alice)), perUser!.bucket(s(who('alice', { tenant: 'acme' }))), 'the same user on another token: the same bucket');
    assert.notEqual(perUser!.bucket(s(alice)), perUser!.bucket(s(otherIdpAlice)), 'the same sub from another IdP is another user');
    assert.equal(perTenant!.bucket(s(alice)), perTenant!.bucket(s(bob)));
    assert.notEqual(perTenant!.bucket(s(alice)), perTenant!.bucket(s(who('carol', { tenant: 'globex' }))));
  });

  it('per client: the same client id registered at two IdPs is two clients', () => {
    const [perClient] = rules([{ id: 'c', key: ['client'], rate: { limit: 1, windowSeconds: 1 } }]);
    const s = (identity: Identity): LimitSubject => ({ door: 'mcp', identity, tool: 'hr.get_reviews', method: 'tools/call' });
    const home = who('alice', { client: 'chatgpt' });
    assert.equal(perClient!.bucket(s(home)), perClient!.bucket(s(who('bob', { client: 'chatgpt' }))));
    assert.notEqual(perClient!.bucket(s(home)), perClient!.bucket(s(who('alice', { client: 'chatgpt', issuer: 'https://other-idp.example' }))));
  });

  it('bucket names hide the key parts and cannot be steered by them', () => {
    const a = bucketName('rule', ['alice@example.com', 'acme-corp']);
    assert.match(a, /^rule:\{[A-Za-z0-9_-]{22}\}$/);
    assert.ok(!a.includes('alice') && !a.includes('acme'), 'no key part in clear');
    // Separators inside values do not make two part lists collide.
    assert.notEqual(bucketName('rule', ['a', 'b:c']), bucketName('rule', ['a:b', 'c']));
    assert.notEqual(bucketName('rule', ['a', '']), bucketName('rule', ['a']));
    assert.notEqual(bucketName('rule', ['"a","b"']), bucketName('rule', ['a', 'b']));
    assert.match(bucketName('rule', ['}{evil}:rate']), /^rule:\{[A-Za-z0-9_-]{22}\}$/, 'braces in a user id do not change the hash tag');
  });

  it('advertises each rule as a draft-ietf-httpapi-ratelimit-headers policy item', () => {
    const [rate, sub, conc] = rules([
      { id: 'per-user', rate: { limit: 60, windowSeconds: 60, burst: 10 } },
      { id: 'fast', rate: { limit: 5, windowSeconds: 0.5 } },
      { id: 'one', concurrency: 1 },
    ]);
    assert.equal(rate!.policy, '"per-user";q=60;w=60');
    assert.deepEqual(rate!.kind === 'rate' && rate!.spec, { limit: 60, windowMs: 60_000, burst: 10 });
    assert.equal(sub!.policy, '"fast";q=5;w=1', 'a window under a second is advertised as 1 s (never a higher rate than enforced)');
    assert.equal(conc!.policy, '"one";q=1;qu="concurrent-requests"');
  });
});

describe('quota periods (UTC calendar)', () => {
  it('minute, hour and day periods start on their UTC boundary', () => {
    const t = Date.UTC(2031, 6, 14, 23, 59, 59, 999);
    assert.deepEqual(periodOf('minute', t), { start: Date.UTC(2031, 6, 14, 23, 59), end: Date.UTC(2031, 6, 15, 0, 0) });
    assert.deepEqual(periodOf('hour', t), { start: Date.UTC(2031, 6, 14, 23), end: Date.UTC(2031, 6, 15) });
    assert.deepEqual(periodOf('day', t), { start: Date.UTC(2031, 6, 14), end: Date.UTC(2031, 6, 15) });
    assert.deepEqual(periodOf('day', t + 1), { start: Date.UTC(2031, 6, 15), end: Date.UTC(2031, 6, 16) });
  });

  it('a month is its calendar month: 29 days in a leap February, the year rolls over in December', () => {
    const feb = periodOf('month', Date.UTC(2032, 1, 29, 12));
    assert.equal((feb.end - feb.start) / 86_400_000, 29);
    assert.deepEqual(periodOf('month', Date.UTC(2031, 11, 31, 23, 59)), { start: Date.UTC(2031, 11, 1), end: Date.UTC(2032, 0, 1) });
  });
});

describe('backend cost header values', () => {
  it('accepts non-negative decimal numbers only', () => {
    assert.equal(parseCost('4'), 4);
    assert.equal(parseCost(' 2.5 '), 2.5);
    assert.equal(parseCost('0'), 0);
    for (const bad of [undefined, '', '-1', '1e3', 'NaN', 'Infinity', '0x10', '3 units', ['1', '2']]) assert.equal(parseCost(bad as string | undefined), undefined, JSON.stringify(bad));
  });
});
