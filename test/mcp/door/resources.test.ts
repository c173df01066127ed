import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { canonicalJson } from '../../../src/lib/canonical-json.js';
import { createVerifier } from '../../../src/backend/index.js';
import { ASSERTION_META_KEY } from '../../../src/mcp-upstream/call.js';
import { startFeatureEnv, GATEWAY_CREDENTIAL, type FeatureEnv } from './feature-env.js';
import { rpcError } from './feature-env.js';
import { assertRpcError, headersFor, openSession, post } from './wire.js';

let f: FeatureEnv;
let alice: Client;
let mallory: Client;
let bob: Client;

before(async () => {
  f = await startFeatureEnv();
  [alice, mallory, bob] = await Promise.all([f.connect('alice'), f.connect('mallory'), f.connect('bob')]);
});
after(() => f.close());

const uris = async (c: Client) => (await c.listResources()).resources.map((r) => r.uri).sort();

describe('MCP resources of an upstream, per user', () => {
  it('initialize advertises resources, prompts, completions and logging, because the upstream serves them', async () => {
    const caps = bob.getServerCapabilities();
    assert.deepEqual(caps?.resources, { subscribe: true, listChanged: false });
    assert.ok(caps?.prompts);
    assert.ok(caps?.completions);
    assert.ok(caps?.logging);
  });

  it('resources/list shows each user what they may read: different users, different lists', async () => {
    assert.deepEqual(await uris(alice), ['hr://handbook', 'hr://reviews/alice', 'hr://reviews/bob']);
    assert.deepEqual(await uris(bob), ['hr://handbook', 'hr://reviews/bob']);
    assert.deepEqual(await uris(mallory), ['hr://handbook', 'hr://reviews/mallory']);
    const handbook = (await bob.listResources()).resources.find((r) => r.uri === 'hr://handbook');
    assert.deepEqual(handbook, { uri: 'hr://handbook', name: 'handbook', description: 'The employee handbook', mimeType: 'text/plain' });
  });

  it('every listed resource is readable and every hidden one is refused, for every user (one decision)', async () => {
    const all = ['hr://handbook', 'hr://reviews/alice', 'hr://reviews/bob', 'hr://reviews/mallory'];
    for (const [client, name] of [[alice, 'alice'], [bob, 'bob'], [mallory, 'mallory']] as const) {
      const listed = new Set(await uris(client));
      for (const uri of all) {
        if (listed.has(uri)) {
          const read = await client.readResource({ uri });
          assert.equal(read.contents[0]?.uri, uri, `${name} reads ${uri}`);
        } else {
          const err = await rpcError(client.readResource({ uri }));
          assert.equal(err.code, -31403, `${name} may not read ${uri}`);
          assert.match(err.message, /forbidden \((no-matching-rule|missing-role|denied-by-rule)\)/);
        }
      }
    }
  });

  it('a URI only a template produces is read through the template, on the same policy', async () => {
    assert.deepEqual((await alice.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate), ['hr://reviews/{employee}']);
    const carol = await alice.readResource({ uri: 'hr://reviews/carol' });
    assert.deepEqual(carol.contents, [{ uri: 'hr://reviews/carol', mimeType: 'text/plain', text: 'Review of carol' }]);
    assert.equal((await rpcError(bob.readResource({ uri: 'hr://reviews/carol' }))).code, -31403, 'Carol is not a report of Bob');
  });

  it('an unknown URI is -32002; a template URI an upstream could read differently is -32602, and nothing reaches the upstream', async () => {
    const before = f.upstream.received.length;
    const unknown = await rpcError(alice.readResource({ uri: 'hr://salaries/bob' }));
    assert.equal(unknown.code, -32002);
    for (const uri of ['hr://reviews/..', 'hr://reviews/%2e%2e', 'hr://reviews/bob%2fsecret']) {
      const err = await rpcError(alice.readResource({ uri }));
      assert.equal(err.code, -32602, uri);
    }
    assert.equal(f.upstream.received.length, before);
  });

  it('the upstream gets the signed identity (header and _meta) bound to the request, its own credential, never the user token', async () => {
    await alice.readResource({ uri: 'hr://reviews/bob' });
    const got = f.upstream.received.filter((r) => r.method === 'resources/read').at(-1)!;
    assert.equal(got.headers.authorization, GATEWAY_CREDENTIAL);
    // The only JWT the upstream sees is the gateway's assertion (header and _meta copy): no user token.
    const jwts = new Set(JSON.stringify(got).match(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/g));
    assert.deepEqual([...jwts], [got.headers['x-behalf-assertion']]);
    const verifier = createVerifier({ issuer: f.env.publicUrl, audience: new URL(f.upstream.url).origin, jwksUrl: `${f.env.publicUrl}/.well-known/jwks.json` });
    const { _meta, ...params } = got.params;
    const caller = await verifier.verify({ method: 'POST', url: got.target, headers: got.headers }, canonicalJson(params));
    assert.equal(caller.user, 'alice');
    assert.equal(caller.tool, undefined, 'no tool claim: this is not a tool call');
    assert.equal((_meta as Record<string, unknown>)[ASSERTION_META_KEY], got.headers['x-behalf-assertion']);
    assert.equal(typeof got.headers['x-request-id'], 'string');
  });

  it('each request is one audit record with the resource, the upstream, the decision and the rule', async () => {
    await mallory.readResource({ uri: 'hr://reviews/mallory' });
    await rpcError(mallory.readResource({ uri: 'hr://reviews/bob' }));
    const records = (await f.env.auditRecords()).filter((r) => r.rpcMethod === 'resources/read' && r.user === 'mallory');
    const allowed = records.find((r) => r.resource === 'hr://reviews/mallory');
    assert.equal(allowed?.decision, 'allow');
    assert.equal(allowed?.ruleId, 'own-review');
    assert.equal(allowed?.upstream, 'hr-mcp');
    const denied = records.find((r) => r.resource === 'hr://reviews/bob');
    assert.equal(denied?.decision, 'deny');
    assert.equal(denied?.reason, 'missing-role', 'the rule for reports needs the manager role');
    assert.equal(denied?.ruleId, 'reports-reviews');
  });

  it('a deny rule wins over an allow rule: Alice may not read Mallory\'s review, even through the template', async () => {
    const err = await rpcError(alice.readResource({ uri: 'hr://reviews/mallory' }));
    assert.match(err.message, /denied-by-rule/);
  });

  it('without an upstream serving them, resources/* stay -32601 (tested in wire.test.ts); a bad cursor is -32602', async () => {
    const { token, session } = await openSession(f.env, 'bob');
    const h = headersFor(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' });
    assertRpcError(await post(f.env, { jsonrpc: '2.0', id: 2, method: 'resources/list', params: { cursor: 'nope' } }, h), 200, -32602, 'bad cursor');
  });
});
