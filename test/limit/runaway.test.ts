import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { send } from '../e2e/bounded-client.js';
import { assertDenied } from '../e2e/e2e-env.js';
import { sample, startLimitEnv, type LimitEnv } from './limit-env.js';

// The runaway-agent guard on HTTP routes: the same user sending the same method, path and body
// more than `repeats` times within the window is stopped and audited; anything that differs is
// another call.

let env: LimitEnv;
before(async () => {
  env = await startLimitEnv({ routes: ['tickets'], limits: { runaway: { repeats: 2, withinSeconds: 30 } } });
});
after(() => env.close());

describe('runaway guard on HTTP routes', () => {
  it('blocks the third identical call within the window; another body, path, query or user is another call', async () => {
    const alice = { ...(await env.auth('alice')), 'content-type': 'application/json' };
    const post = (path: string, body: string, headers = alice) => send(env.url, { method: 'POST', path, headers, body });
    const same = '{"title":"printer on fire","priority":1}';
    assert.equal((await post('/api/tickets', same)).status, 200);
    assert.equal((await post('/api/tickets', same)).status, 200);
    const loop = await post('/api/tickets', same);
    const requestId = assertDenied(loop, 429, 'runaway-agent', 'the third identical call');
    const retry = Number(loop.headers['retry-after']);
    assert.ok(retry >= 29 && retry <= 30, `Retry-After ${retry}: when the first repeat leaves the window`);
    assert.equal(loop.headers['ratelimit'], undefined, 'the guard is not an advertised policy');

    assert.equal((await post('/api/tickets', '{"title":"printer on fire","priority":2}')).status, 200, 'another body');
    assert.equal((await post('/api/tickets/7', same)).status, 200, 'another path');
    assert.equal((await post('/api/tickets?dry=1', same)).status, 200, 'another query');
    assert.equal((await post('/api/tickets', same, { ...(await env.auth('bob')), 'content-type': 'application/json' })).status, 200, 'another user');

    const record = (await env.auditRecords()).findLast((r) => r.requestId === requestId);
    assert.deepEqual([record?.decision, record?.reason, record?.ruleId, record?.user, record?.method], ['deny', 'runaway-agent', 'runaway', 'alice', 'POST']);
    assert.equal(sample(await env.metrics(), 'behalf_limit_decisions_total', { rule: 'runaway', outcome: 'deny' }), 1);
  });
});
