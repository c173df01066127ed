import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { canonicalText } from '../../src/authorize/condition.js';
import { POLICIES, startDoorEnv, type DoorEnv } from '../mcp/door/harness.js';
import { headersFor, messageOf, openSession, post } from '../mcp/door/wire.js';

/**
 * Class 5 of "Request integrity": argument values that are "the same" to a lenient backend. A
 * deny rule `who == "mallory"` is passed by `Mallory`, `" mallory"`, `ｍａｌｌｏｒｙ`,
 * `mal\u00ADlory`; written with CEL's `sameText` (or `canonical`), it holds for every spelling.
 */

const SPELLINGS = ['mallory', 'Mallory', ' mallory', 'ｍａｌｌｏｒｙ', 'mal\u00ADlory', 'mal\u200Blory', 'MALLORY\t'];

describe('canonical text', () => {
  for (const s of SPELLINGS) {
    it(`${JSON.stringify(s)} is "mallory"`, () => assert.equal(canonicalText(s), 'mallory'));
  }
  it('other names stay other names', () => {
    assert.equal(canonicalText('bob'), 'bob');
    assert.notEqual(canonicalText('mallorie'), 'mallory');
  });
});

describe('a deny rule on a user-chosen argument, through the MCP door', () => {
  let env: DoorEnv;
  before(async () => {
    env = await startDoorEnv({
      policies: [
        { id: 'no-notes-about-mallory', effect: 'deny', match: { tools: ['whoami'] }, when: 'has(body.note) && sameText(body.note, "mallory")' },
        { id: 'naive-bob-rule', effect: 'deny', match: { tools: ['reviews.write'] }, when: 'has(body.text) && body.text == "bob"' },
        ...(POLICIES ?? []),
      ],
    });
  });
  after(async () => {
    await env?.close();
  });

  async function call(tool: string, args: Record<string, unknown>): Promise<{ error?: { data?: { reason?: string } }; result?: unknown }> {
    const { token, session } = await openSession(env, 'alice', { scopes: ['reviews:write'] });
    const reply = await post(env, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: tool, arguments: args } }, headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }));
    return messageOf(reply) as { error?: { data?: { reason?: string } }; result?: unknown };
  }

  for (const spelling of SPELLINGS) {
    it(`whoami with note ${JSON.stringify(spelling)} is denied by the rule written with sameText`, async () => {
      const before = env.source.calls.length;
      const message = await call('whoami', { note: spelling });
      assert.equal(message.error?.data?.reason, 'denied-by-rule');
      assert.equal(env.source.calls.length, before, 'the tool was not called');
    });
  }

  it('another note goes through', async () => {
    const message = await call('whoami', { note: 'bob' });
    assert.ok(message.result !== undefined, JSON.stringify(message));
  });

  it('the naive == rule is what the issue found: "Bob" passes it (documented next to the rule examples)', async () => {
    assert.equal((await call('reviews.write', { text: 'bob' })).error?.data?.reason, 'denied-by-rule');
    assert.equal((await call('reviews.write', { text: 'Bob' })).error, undefined);
  });
});
