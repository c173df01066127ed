import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { connectAs, DEFINITIONS, startDoorEnv, type DoorEnv } from './harness.js';
import { assertRpcError, headersFor, post } from './wire.js';

// The official SDK client (Streamable HTTP, bearer token in requestInit) against a real gateway:
// what each user sees, what each user can call, sessions, progress and cancellation.

let env: DoorEnv;
before(async () => {
  env = await startDoorEnv();
});
after(async () => {
  await env.close();
});

/** Representative arguments for each tool: ones the tool's policy allows for its intended user. */
const ARGS: Record<string, Record<string, unknown>> = {
  whoami: {},
  'team.reports': { employee: 'bob' },
  'finance.ledger': {},
  slow: { steps: 1, stepMs: 1 },
  'reviews.write': { text: 'good work' },
  region: { region: 'eu' },
};

/** How a call ended, as the client sees it. */
async function outcome(client: Awaited<ReturnType<typeof connectAs>>['client'], name: string): Promise<'called' | 'forbidden' | 'step-up' | 'unknown'> {
  try {
    await client.callTool({ name, arguments: ARGS[name] ?? {} });
    return 'called';
  } catch (err) {
    if (err instanceof McpError && err.code === -31403) return 'forbidden';
    if (err instanceof McpError && err.code === -32602 && /Unknown tool/.test(err.message)) return 'unknown';
    // The transport throws on a non-2xx answer: 403 is the insufficient_scope step-up challenge.
    if (err instanceof Error && (err as { code?: unknown }).code === 403) return 'step-up';
    throw err;
  }
}

describe('the SDK client through the MCP door', () => {
  it('each user lists exactly the tools the policy lets them call; a listed tool is callable and a hidden one is not', async () => {
    const expected: Record<string, string[]> = {
      alice: ['region', 'slow', 'team.reports', 'whoami'],
      bob: ['region', 'slow', 'whoami'],
      mallory: ['finance.ledger', 'region', 'slow', 'whoami'],
    };
    for (const [user, visible] of Object.entries(expected)) {
      const { client } = await connectAs(env, user);
      const listed = (await client.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(listed, visible, `${user}: tools/list`);
      for (const name of Object.keys(DEFINITIONS)) {
        const result = await outcome(client, name);
        if (name === 'broken') assert.equal(result, 'unknown', `${user}: a blocked tool is an unknown tool`);
        else if (listed.includes(name)) assert.equal(result, 'called', `${user}: listed ${name} must be callable`);
        else assert.notEqual(result, 'called', `${user}: hidden ${name} must not be callable`);
      }
      await client.close();
    }
  });

  it('the backend sees the verified user, never a claim from the client; isError results pass through', async () => {
    const { client } = await connectAs(env, 'alice');
    const before = env.source.calls.length;
    const result = await client.callTool({ name: 'whoami', arguments: { note: 'I am mallory' } });
    assert.deepEqual(result.structuredContent, { user: 'alice', tool: 'whoami', args: { note: 'I am mallory' } });
    assert.equal(env.source.calls.length, before + 1);
    assert.match(env.source.calls.at(-1)!.argumentsDigest, /^sha256:[A-Za-z0-9_-]{43}$/);
    await client.close();

    const { client: mallory } = await connectAs(env, 'mallory');
    const ledger = await mallory.callTool({ name: 'finance.ledger', arguments: {} });
    assert.equal(ledger.isError, true);
    assert.deepEqual(ledger.content, [{ type: 'text', text: 'ledger unavailable' }]);
    assert.equal((ledger as Record<string, unknown>)['upstreamStatus'], undefined, 'audit-only fields stay in the gateway');
    await mallory.close();
  });

  it('a listed tool still refuses arguments the policy does not allow, with the reason', async () => {
    const { client } = await connectAs(env, 'alice');
    await assert.rejects(client.callTool({ name: 'team.reports', arguments: { employee: 'mallory' } }), (err: unknown) => {
      assert.ok(err instanceof McpError);
      assert.equal(err.code, -31403);
      assert.match(err.message, /no-matching-rule/);
      return true;
    });
    await client.close();
  });

  it('a session used with another user\'s token is not found; DELETE ends it for its owner only', async () => {
    const { client, transport } = await connectAs(env, 'alice');
    const session = transport.sessionId!;
    assert.match(session, /^[A-Za-z0-9_-]{22}$/);
    const malloryToken = await env.token('mallory');
    const hijack = await post(env, { jsonrpc: '2.0', id: 7, method: 'tools/list' }, headersFor(malloryToken, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }));
    assertRpcError(hijack, 404, -32600, 'hijack');
    const del = await fetch(env.mcpUrl, { method: 'DELETE', headers: { authorization: `Bearer ${malloryToken}`, 'mcp-session-id': session } });
    assert.equal(del.status, 404, 'another user cannot end the session');
    assert.ok((await client.listTools()).tools.length > 0, 'the owner still uses the session');

    await transport.terminateSession();
    const afterEnd = await post(env, { jsonrpc: '2.0', id: 8, method: 'ping' }, headersFor(await env.token('alice'), { 'mcp-session-id': session }));
    assertRpcError(afterEnd, 404, -32600, 'ended session');
    await client.close();
  });

  it('progress from a slow tool reaches the client as it happens', async () => {
    const { client } = await connectAs(env, 'bob');
    const seen: { progress: number; total?: number; message?: string }[] = [];
    const result = await client.callTool({ name: 'slow', arguments: { steps: 3, stepMs: 10 } }, undefined, { onprogress: (p) => seen.push(p) });
    assert.deepEqual(result.content, [{ type: 'text', text: 'done after 3 steps' }]);
    assert.deepEqual(
      seen.map((p) => [p.progress, p.total, p.message]),
      [
        [1, 3, 'step 1'],
        [2, 3, 'step 2'],
        [3, 3, 'step 3'],
      ],
    );
    await client.close();
  });

  it('a cancelled call is aborted at the source and audited as cancelled', async () => {
    const { client } = await connectAs(env, 'carol');
    const abortedBefore = env.source.aborted;
    const controller = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { steps: 50, stepMs: 40 } }, undefined, {
      signal: controller.signal,
      onprogress: () => controller.abort('user pressed stop'),
    });
    await assert.rejects(call);
    const deadline = Date.now() + 2_000;
    while (env.source.aborted === abortedBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(env.source.aborted, abortedBefore + 1, 'the source saw the abort');
    const requestId = env.source.calls.at(-1)!.requestId;
    let record;
    while (record === undefined && Date.now() < deadline) {
      record = (await env.auditRecords()).findLast((r) => r.requestId === requestId);
      if (record === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(record, 'the cancelled call is audited');
    assert.equal(record.tool, 'slow');
    assert.equal(record.detail, 'cancelled by the client');
    await client.close();
  });
});
