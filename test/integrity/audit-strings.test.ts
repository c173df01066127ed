import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditString } from '../../src/lib/printable.js';
import { startDoorEnv, type DoorEnv } from '../mcp/door/harness.js';
import { headersFor, openSession, post } from '../mcp/door/wire.js';

/**
 * Class 9 of "Request integrity": strings an attacker chooses (a tool name, a resource URI, a
 * JSON-RPC method) are kept in the audit record escaped reversibly and bounded, and anything
 * shaped like a token is replaced by a digest.
 */

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz';

describe('auditString', () => {
  const cases: [string, string][] = [
    ['get_reviews', 'get_reviews'],
    ['get_reviews\t', 'get_reviews\\t'],
    ['get_reviews\n', 'get_reviews\\n'],
    ['a\\b', 'a\\\\b'],
    ['nul\u0000', 'nul\\u0000'],
    ['ｓｅｃｒｅｔ', '\\uff53\\uff45\\uff43\\uff52\\uff45\\uff54'],
    ['key 🔑', 'key \\ud83d\\udd11'],
  ];
  for (const [raw, kept] of cases) {
    it(`${JSON.stringify(raw)} is kept as ${JSON.stringify(kept)}, and reads back as the original`, () => {
      assert.equal(auditString(raw, 128), kept);
      assert.equal(JSON.parse(`"${kept}"`), raw, 'JSON escapes: reversible');
    });
  }

  it('replaces a JWT-shaped value by a digest, the same for the same token', () => {
    const kept = auditString(`call ${JWT} now`, 512);
    assert.ok(!kept.includes(JWT));
    assert.match(kept, /^call \[token sha256:[0-9a-f]{16}\] now$/);
    assert.equal(auditString(JWT, 512), auditString(JWT, 512));
    assert.notEqual(auditString(JWT, 512), auditString(`${JWT}x`, 512));
  });

  it('bounds the original before escaping', () => {
    assert.equal(auditString('a'.repeat(1000), 128).length, 128);
    assert.equal(auditString('\n'.repeat(1000), 10), '\\n'.repeat(10));
  });
});

describe('attacker-chosen names in the MCP door audit record', () => {
  let env: DoorEnv;
  before(async () => {
    env = await startDoorEnv();
  });
  after(async () => {
    await env?.close();
  });

  async function callTool(name: string): Promise<string | undefined> {
    const { token, session } = await openSession(env, 'alice');
    const reply = await post(env, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: {} } }, headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }));
    assert.equal(reply.status, 200);
    return String(reply.headers['x-request-id']);
  }

  it('tool names that differ by a tab or a newline stay different, and a token-shaped name is not stored', async () => {
    const ids = [await callTool('get_reviews\t'), await callTool('get_reviews\n'), await callTool(JWT)];
    const records = await env.auditRecords();
    const tools = ids.map((id) => records.findLast((r) => r.requestId === id)?.tool);
    assert.deepEqual(tools.slice(0, 2), ['get_reviews\\t', 'get_reviews\\n']);
    assert.match(tools[2] ?? '', /^\[token sha256:[0-9a-f]{16}\]$/);
    assert.ok(!JSON.stringify(records).includes(JWT), 'the token is nowhere in the trail');
    for (const id of ids) assert.equal(records.findLast((r) => r.requestId === id)?.reason, 'route-not-found');
  });
});

describe('token-shaped names in refusal details', () => {
  it('a duplicate JSON key or a repeated query name shaped like a token is kept as its digest', async () => {
    const { parseJsonBody } = await import('../../src/lib/read-body.js');
    const { readQuery } = await import('../../src/lib/canonical-query.js');
    const body = parseJsonBody(Buffer.from(`{"${JWT}":1,"${JWT}":2}`), 'application/json');
    assert.ok(!body.ok);
    assert.match(body.decision.detail ?? '', /^duplicate JSON key "\[token sha256:[0-9a-f]{16}\]"$/);
    const query = readQuery(`?${JWT}=1&${JWT}=2`);
    assert.ok(!query.ok);
    assert.ok(!query.problem.detail.includes(JWT), query.problem.detail);
    assert.match(query.problem.detail, /\[token sha256:[0-9a-f]{16}\]/);
  });
});
