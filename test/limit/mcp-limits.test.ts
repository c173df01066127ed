import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BEHALF_RPC } from '../../src/doors/mcp/protocol.js';
import { startDoorEnv, type DoorEnv } from '../mcp/door/harness.js';
import { assertRpcError, headersFor, messageOf, openSession, post } from '../mcp/door/wire.js';

// The limit stage on the MCP door: a `tools/call` past a limit is an HTTP 429 carrying a
// JSON-RPC error (-31429, reason and retryAfter in `data`) plus Retry-After and the RateLimit
// fields; protocol messages are never counted; the runaway guard stops the same call with the
// same arguments; every refusal is audited with the tool and the rule.

let env: DoorEnv;
before(async () => {
  env = await startDoorEnv({
    limits: {
      rules: [
        { id: 'whoami-rate', match: { tools: ['whoami'] }, key: ['user', 'tool'], rate: { limit: 2, windowSeconds: 60 } },
        { id: 'reports-hourly', match: { tools: ['team.reports'] }, quota: { limit: 10, period: 'hour' } },
      ],
      costs: { tools: { 'team.reports': 5 } },
      runaway: { repeats: 3, withinSeconds: 60 },
    },
  });
});
after(() => env.close());

let nextId = 10;
async function call(s: { token: string; session: string }, name: string, args: Record<string, unknown>) {
  return post(env, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } }, headersFor(s.token, { 'mcp-session-id': s.session, 'mcp-protocol-version': '2025-11-25' }));
}

describe('limits on MCP tools/call', () => {
  it('a call past a rate limit is HTTP 429 with a JSON-RPC error, Retry-After and RateLimit fields; list and ping are not counted', async () => {
    const s = await openSession(env, 'alice');
    const h = headersFor(s.token, { 'mcp-session-id': s.session, 'mcp-protocol-version': '2025-11-25' });
    for (let i = 0; i < 4; i++) assert.equal((await post(env, { jsonrpc: '2.0', id: 100 + i, method: i % 2 ? 'ping' : 'tools/list', params: {} }, h)).status, 200);
    for (let i = 1; i <= 2; i++) {
      const ok = await call(s, 'whoami', { note: `call ${i}` });
      assert.equal(ok.status, 200, ok.body);
      assert.ok(messageOf(ok)['result'], `call ${i} has a result`);
      assert.equal(ok.headers['ratelimit-policy'], '"whoami-rate";q=2;w=60');
      assert.equal(ok.headers['ratelimit'], `"whoami-rate";r=${2 - i};t=${30 * i}`);
    }
    const refused = await call(s, 'whoami', { note: 'call 3' });
    const error = assertRpcError(refused, 429, BEHALF_RPC.tooManyRequests, 'the third call');
    assert.deepEqual({ ...error.data, requestId: undefined }, { reason: 'rate-limited', retryAfter: 30, rule: 'whoami-rate', requestId: undefined });
    assert.match(error.message, /rate-limited.*30 s/);
    assert.equal(refused.headers['retry-after'], '30');
    assert.equal(refused.headers['ratelimit'], '"whoami-rate";r=0;t=30');
    assert.equal(env.source.calls.filter((c) => c.user === 'alice' && c.tool === 'whoami').length, 2, 'the source never saw the third call');

    const record = (await env.auditRecords()).findLast((r) => r.requestId === refused.headers['x-request-id']);
    assert.ok(record, 'the refusal is audited');
    assert.deepEqual([record.door, record.rpcMethod, record.tool, record.decision, record.reason, record.ruleId, record.status], ['mcp', 'tools/call', 'whoami', 'deny', 'rate-limited', 'whoami-rate', 429]);
    assert.match(record.argsDigest ?? '', /^sha256:/);
  });

  it('the runaway guard blocks the same tool with the same arguments past `repeats` within the window, and audits it', async () => {
    const s = await openSession(env, 'carol');
    const same = { steps: 1, stepMs: 1 };
    for (let i = 0; i < 3; i++) assert.equal((await call(s, 'slow', same)).status, 200, `repeat ${i + 1}`);
    const loop = await call(s, 'slow', same);
    const error = assertRpcError(loop, 429, BEHALF_RPC.tooManyRequests, 'the fourth identical call');
    assert.equal(error.data?.['reason'], 'runaway-agent');
    assert.equal(error.data?.['rule'], 'runaway');
    assert.ok(Number(loop.headers['retry-after']) >= 59 && Number(loop.headers['retry-after']) <= 60, `Retry-After ${loop.headers['retry-after']}`);
    assert.equal((await call(s, 'slow', { steps: 2, stepMs: 1 })).status, 200, 'other arguments are another call');
    const bob = await openSession(env, 'bob');
    assert.equal((await call(bob, 'slow', same)).status, 200, 'another user is not affected');
    const record = (await env.auditRecords()).findLast((r) => r.requestId === loop.headers['x-request-id']);
    assert.deepEqual([record?.reason, record?.ruleId, record?.tool, record?.user], ['runaway-agent', 'runaway', 'slow', 'carol']);
    assert.match(record?.detail ?? '', /runaway guard: the same call 3 times within 60 s/);
  });

  it('a quota charges the configured cost of the tool', async () => {
    const s = await openSession(env, 'alice');
    const first = await call(s, 'team.reports', { employee: 'bob' });
    assert.equal(first.status, 200, first.body);
    assert.match(String(first.headers['ratelimit']), /^"reports-hourly";r=5;t=\d+$/);
    assert.equal((await call(s, 'team.reports', { employee: 'carol' })).status, 200);
    const refused = await call(s, 'team.reports', { employee: 'bob' });
    assert.equal(refused.status, 429, refused.body.slice(0, 200));
    assert.equal(assertRpcError(refused, 429, BEHALF_RPC.tooManyRequests, 'the third call')['data']?.['reason'], 'quota-exceeded');
  });
});
