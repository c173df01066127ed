import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { canonicalJson } from '../../../src/lib/canonical-json.js';
import { bodyDigest } from '../../../src/lib/digest.js';
import { startFeatureEnv, type FeatureEnv } from './feature-env.js';
import { rpcError } from './feature-env.js';
import { headersFor, messageOf, openSession, post, stateless } from './wire.js';

let f: FeatureEnv;
let alice: Client;
let mallory: Client;

before(async () => {
  f = await startFeatureEnv();
  [alice, mallory] = await Promise.all([f.connect('alice'), f.connect('mallory')]);
});
after(() => f.close());


describe('MCP prompts of an upstream, namespaced like tools', () => {
  it('prompts/list shows a prompt only to users some prompts/get could be allowed for', async () => {
    const names = async (c: Client) => (await c.listPrompts()).prompts.map((p) => p.name).sort();
    assert.deepEqual(await names(alice), ['hr.handbook_intro', 'hr.review_summary']);
    assert.deepEqual(await names(mallory), ['hr.handbook_intro'], 'no manager role: the summary is hidden');
    const summary = (await alice.listPrompts()).prompts.find((p) => p.name === 'hr.review_summary');
    assert.deepEqual(summary?.arguments, [{ name: 'employee', required: true }]);
  });

  it('prompts/get is decided on the arguments: Alice gets a summary of her report, not of Mallory', async () => {
    const got = await alice.getPrompt({ name: 'hr.review_summary', arguments: { employee: 'bob' } });
    assert.deepEqual(got.messages, [{ role: 'user', content: { type: 'text', text: 'Summarise the review of bob' } }]);
    assert.equal(got.description, 'summary');
    const seen = f.upstream.received.filter((r) => r.method === 'prompts/get').at(-1)!;
    assert.equal(seen.params['name'], 'review_summary', "the upstream gets its own prompt name");
    assert.match((await rpcError(alice.getPrompt({ name: 'hr.review_summary', arguments: { employee: 'mallory' } }))).message, /forbidden \(no-matching-rule\)/);
  });

  it('a hidden prompt cannot be got; an unknown one is -32602; arguments must be strings', async () => {
    const hidden = await rpcError(mallory.getPrompt({ name: 'hr.review_summary', arguments: { employee: 'bob' } }));
    assert.equal(hidden.code, -31403);
    for (const name of ['review_summary', 'hr.nope', '__proto__', 'hr.review_summary/']) {
      assert.equal((await rpcError(alice.getPrompt({ name }))).code, -32602, name);
    }
    const { token, session } = await openSession(f.env, 'alice');
    const bad = await post(f.env, { jsonrpc: '2.0', id: 2, method: 'prompts/get', params: { name: 'hr.review_summary', arguments: { employee: 7 } } }, headersFor(token, { 'mcp-session-id': session }));
    assert.equal((messageOf(bad)['error'] as { code: number }).code, -32602);
  });

  it('completion/complete is relayed for a prompt the user could use, and refused for one they could not', async () => {
    const done = await alice.complete({ ref: { type: 'ref/prompt', name: 'hr.review_summary' }, argument: { name: 'employee', value: 'b' } });
    assert.deepEqual(done.completion.values, ['bob']);
    const seen = f.upstream.received.filter((r) => r.method === 'completion/complete').at(-1)!;
    assert.deepEqual(seen.params['ref'], { type: 'ref/prompt', name: 'review_summary' });
    const refused = await rpcError(mallory.complete({ ref: { type: 'ref/prompt', name: 'hr.review_summary' }, argument: { name: 'employee', value: 'b' } }));
    assert.equal(refused.code, -31403);
    const template = await alice.complete({ ref: { type: 'ref/resource', uri: 'hr://reviews/{employee}' }, argument: { name: 'employee', value: 'ca' } });
    assert.deepEqual(template.completion.values, ['carol']);
  });

  it('the stateless form serves prompts too, with a private cache scope', async () => {
    const token = await f.env.token('alice');
    const req = stateless(token, 'prompts/get', { name: 'hr.handbook_intro' });
    const reply = await post(f.env, req.body, req.headers);
    assert.equal(reply.status, 200, reply.body);
    const result = messageOf(reply)['result'] as Record<string, unknown>;
    assert.equal(result['resultType'], 'complete');
    assert.ok(Array.isArray(result['messages']));
    const list = stateless(token, 'prompts/list');
    const listed = messageOf(await post(f.env, list.body, list.headers))['result'] as Record<string, unknown>;
    assert.equal(listed['cacheScope'], 'private');
  });

  it('audit: the prompt, its arguments digest and kept arguments (audit.arguments), the upstream and the rule', async () => {
    const records = await f.env.auditRecords();
    const got = records.find((r) => r.rpcMethod === 'prompts/get' && r.user === 'alice' && r.decision === 'allow');
    assert.equal(got?.prompt, 'hr.review_summary');
    assert.equal(got?.upstream, 'hr-mcp');
    assert.equal(got?.ruleId, 'summaries-for-managers');
    assert.equal(got?.argsDigest, bodyDigest(canonicalJson({ employee: 'bob' })));
    assert.deepEqual(got?.args, { employee: 'bob' });
    const completion = records.find((r) => r.rpcMethod === 'completion/complete' && r.user === 'mallory');
    assert.equal(completion?.decision, 'deny');
    assert.equal(completion?.prompt, 'hr.review_summary');
  });
});
