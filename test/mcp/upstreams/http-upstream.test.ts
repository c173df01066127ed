import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { canonicalJson } from '../../../src/lib/canonical-json.js';
import { createVerifier } from '../../../src/backend/index.js';
import { ASSERTION_META_KEY } from '../../../src/mcp-upstream/call.js';
import { createUpstreams, type Upstreams } from '../../../src/mcp-upstream/upstreams.js';
import type { SigningKeys } from '../../../src/forward/identity/signing-keys.js';
import type { AssertionSigner } from '../../../src/forward/identity/signed-assertion.js';
import { callContext, freePort, GATEWAY, gatewayKeys, quiet, removeTempDirs, tempDir, upstreamConfigs, waitFor } from './helpers.js';
import { startTestUpstream, type TestUpstream } from './upstream-server.js';

let keys: SigningKeys;
let signer: AssertionSigner;
let upstream: TestUpstream;
let set: Upstreams;

const CREDENTIAL = 'Bearer gateway-own-key-for-hr';

before(async () => {
  ({ keys, signer } = await gatewayKeys(await tempDir()));
  upstream = await startTestUpstream();
  const [cfg] = upstreamConfigs([
    { id: 'hr-mcp', namespace: 'hr', url: upstream.url, headers: { Authorization: CREDENTIAL }, pinning: 'off', timeoutMs: 2_000, circuit: { openMs: 50, maxOpenMs: 200 } },
  ]);
  set = createUpstreams([cfg!], { signer, logger: quiet });
  await waitFor(() => set.tools().length > 0, 'the upstream tools');
});

after(async () => {
  await set.close();
  await upstream.stop();
  await removeTempDirs();
});

const source = () => set.sources()[0]!;

describe('an upstream MCP server over Streamable HTTP', () => {
  it('lists every page of its tools under its namespace, leaving out names clients could not use', () => {
    const names = set.tools().map((t) => t.definition.name).sort();
    assert.deepEqual(names, ['hr.echo', 'hr.get_reviews', 'hr.progress', 'hr.slow']);
    const reviews = set.tools().find((t) => t.definition.name === 'hr.get_reviews')!;
    assert.equal(reviews.definition.title, 'Reviews');
    assert.deepEqual(reviews.definition.outputSchema, { type: 'object', properties: { reviews: { type: 'array' } } });
    assert.equal(reviews.source.kind, 'mcp');
    assert.equal(reviews.source.id, 'hr-mcp');
    assert.deepEqual(set.status(), [{ id: 'hr-mcp', state: 'up', tools: 4, circuit: 'closed', circuitOpens: 0 }]);
  });

  it('calls the upstream tool by its own name with a verifiable assertion in the header and _meta, and the gateway credential', async () => {
    const args = { text: 'hello' };
    const result = await source().call('hr.echo', args, callContext(args, { requestId: 'req-echo' }));
    assert.deepEqual(result.content, [{ type: 'text', text: 'hello' }]);
    assert.equal(result.isError, undefined);

    const call = upstream.calls.at(-1)!;
    assert.equal(call.tool, 'echo');
    assert.deepEqual(call.args, args);
    assert.equal(call.headers.authorization, CREDENTIAL, 'only the gateway credential, never a user token');
    assert.equal(call.headers['x-request-id'], 'req-echo');

    // The upstream verifies with the backend helper: the request target, and the canonical JSON of the arguments as the body.
    const verifier = createVerifier({ issuer: GATEWAY, audience: new URL(upstream.url).origin, keys: keys.publicJwks() });
    const caller = await verifier.verify({ method: 'POST', url: call.target, headers: call.headers }, canonicalJson(call.args));
    assert.equal(caller.user, 'alice');
    assert.equal(caller.client, 'claude');
    assert.equal(caller.tool, 'echo');
    assert.equal(call.target, '/mcp');

    const meta = call.meta?.[ASSERTION_META_KEY];
    assert.equal(typeof meta, 'string');
    const viaMeta = await verifier.verify({ method: 'POST', url: call.target, headers: { 'x-behalf-assertion': meta as string } }, canonicalJson(call.args));
    assert.equal(viaMeta.user, 'alice');
  });

  it('an assertion for other arguments does not verify against the ones received', async () => {
    const args = { text: 'pay 10' };
    await source().call('hr.echo', args, callContext({ text: 'pay 1000' }));
    const call = upstream.calls.at(-1)!;
    const verifier = createVerifier({ issuer: GATEWAY, audience: new URL(upstream.url).origin, keys: keys.publicJwks() });
    await assert.rejects(verifier.verify({ method: 'POST', url: call.target, headers: call.headers }, canonicalJson(call.args)), { code: 'assertion-body-mismatch' });
  });

  it('relays the upstream progress notifications to the client', async () => {
    const seen: unknown[] = [];
    const result = await source().call('hr.progress', {}, callContext({}, { onProgress: (p) => seen.push(p) }));
    assert.deepEqual(result.content, [{ type: 'text', text: 'done' }]);
    assert.deepEqual(seen, [{ progress: 1, total: 2, message: 'half' }, { progress: 2, total: 2 }]);
  });

  it('a client cancellation reaches the upstream handler, and the call rejects', async () => {
    const controller = new AbortController();
    const pending = source().call('hr.slow', {}, callContext({}, { signal: controller.signal }));
    await waitFor(() => upstream.calls.some((c) => c.tool === 'slow'), 'the slow call to start');
    controller.abort(new Error('client cancelled'));
    await assert.rejects(pending, /client cancelled/);
    await waitFor(() => upstream.aborted.includes('slow'), 'the upstream to see the cancellation');
  });

  it('passes structured content through', async () => {
    const result = await source().call('hr.get_reviews', { employee: 'bob' }, callContext({ employee: 'bob' }));
    assert.deepEqual(result.structuredContent, { reviews: [] });
  });

  it('re-lists when the upstream says its tools changed', async () => {
    await upstream.setDescription('echo', 'Echo, now with more words');
    await waitFor(() => set.tools().find((t) => t.definition.name === 'hr.echo')?.definition.description === 'Echo, now with more words', 'the new description');
  });

  it('an upstream that restarted (its session gone) is reconnected and the call goes through', async () => {
    await upstream.stop();
    // A restart takes a moment: let the gateway's kept-alive sockets see the old process go.
    await new Promise((r) => setTimeout(r, 30));
    await upstream.start();
    const result = await source().call('hr.echo', { text: 'again' }, callContext({ text: 'again' }));
    assert.deepEqual(result.content, [{ type: 'text', text: 'again' }]);
  });

  it('an upstream that is down gives an isError result, not a crash, and recovers when it is back', async () => {
    await upstream.stop();
    const down = await source().call('hr.echo', { text: 'x' }, callContext({ text: 'x' }));
    assert.equal(down.isError, true);
    assert.deepEqual(down.content, [{ type: 'text', text: 'upstream unavailable' }]);
    assert.match(down.detail ?? '', /upstream hr-mcp unavailable/);
    assert.equal(down.failure, 'upstream-unavailable', 'recorded as a route request to a down backend would be');
    assert.equal(set.status()[0]!.state, 'down');
    assert.ok(set.tools().length === 4, 'its tools stay listed while it is down');

    await upstream.start();
    await waitFor(() => set.status()[0]!.state === 'up', 'the reconnection');
    const back = await source().call('hr.echo', { text: 'back' }, callContext({ text: 'back' }));
    assert.deepEqual(back.content, [{ type: 'text', text: 'back' }]);
    assert.equal(back.failure, undefined);
  });
});

describe('upstream timeouts and start-up', () => {
  it('a call that takes longer than timeoutMs answers "upstream timed out" and is cancelled upstream', async () => {
    const slowUpstream = await startTestUpstream();
    const [cfg] = upstreamConfigs([{ id: 'slowpoke', url: slowUpstream.url, pinning: 'off', timeoutMs: 150 }]);
    const slowSet = createUpstreams([cfg!], { signer, logger: quiet });
    try {
      await slowSet.refresh();
      const result = await slowSet.sources()[0]!.call('slowpoke.slow', {}, callContext({}));
      assert.equal(result.isError, true);
      assert.deepEqual(result.content, [{ type: 'text', text: 'upstream timed out' }]);
      assert.match(result.detail ?? '', /did not answer within 150 ms/);
      assert.equal(result.failure, 'upstream-timeout');
      await waitFor(() => slowUpstream.aborted.includes('slow'), 'the upstream to see the cancellation');
      assert.equal(slowUpstream.calls[0]!.headers.authorization, undefined, 'no credential configured: no Authorization at all');
    } finally {
      await slowSet.close();
      await slowUpstream.stop();
    }
  });

  it('an upstream down at start does not block; its tools appear when it comes up', async () => {
    const port = await freePort();
    const [cfg] = upstreamConfigs([{ id: 'late', url: `http://127.0.0.1:${port}/mcp`, pinning: 'off', circuit: { openMs: 30, maxOpenMs: 60 } }]);
    let changes = 0;
    const lateSet = createUpstreams([cfg!], { signer, logger: quiet });
    lateSet.onChange(() => changes++);
    let late: TestUpstream | undefined;
    try {
      assert.deepEqual(lateSet.tools(), []);
      await waitFor(() => lateSet.status()[0]!.state === 'down', 'the first attempt to fail');
      const call = await lateSet.sources()[0]!.call('late.echo', { text: 'x' }, callContext({ text: 'x' }));
      assert.equal(call.isError, true);
      late = await startTestUpstream({ port });
      await waitFor(() => lateSet.tools().length === 4, 'the tools of the late upstream');
      assert.ok(changes > 0, 'the catalog was told');
    } finally {
      await lateSet.close();
      await late?.stop();
    }
  });
});
