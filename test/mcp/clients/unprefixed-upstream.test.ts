import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import { createUpstreams, type Upstreams } from '../../../src/mcp-upstream/upstreams.js';
import type { AssertionSigner } from '../../../src/forward/identity/signed-assertion.js';
import { callContext, gatewayKeys, GATEWAY, quiet, removeTempDirs, tempDir, upstreamConfigs, waitFor } from '../upstreams/helpers.js';
import { startTestUpstream, type TestUpstream } from '../upstreams/upstream-server.js';

// `namespace: ""`: an upstream whose tools keep their own names (what the conformance run needs,
// since the suite calls `test_simple_text`, not `everything.test_simple_text`).

let signer: AssertionSigner;
let upstream: TestUpstream;
let set: Upstreams;

before(async () => {
  ({ signer } = await gatewayKeys(await tempDir()));
  upstream = await startTestUpstream();
  set = createUpstreams(upstreamConfigs([{ id: 'plain', namespace: '', url: upstream.url, pinning: 'off', timeoutMs: 2_000, circuit: { openMs: 50, maxOpenMs: 200 } }]), {
    signer,
    logger: quiet,
  });
  await waitFor(() => set.tools().length > 0, 'the upstream tools');
});
after(async () => {
  await set.close();
  await upstream.stop();
  await removeTempDirs();
});

const configWith = (upstreams: unknown[]) =>
  validateConfig({ server: { publicUrl: GATEWAY }, issuers: [{ id: 'demo', issuer: 'https://idp.example', audience: GATEWAY }], upstreams });

describe('an upstream with an empty namespace', () => {
  it('serves its tools under their own names and calls them by those names', async () => {
    assert.deepEqual(set.tools().map((t) => t.definition.name).sort(), ['echo', 'get_reviews', 'progress', 'slow']);
    const result = await set.sources()[0]!.call('echo', { text: 'hi' }, callContext({ text: 'hi' }));
    assert.deepEqual(result.content, [{ type: 'text', text: 'hi' }]);
    assert.equal(upstream.calls.at(-1)?.tool, 'echo');
  });

  it('is valid config; a namespace that is not a name prefix is still refused', () => {
    assert.equal(configWith([{ id: 'plain', namespace: '', url: 'http://127.0.0.1:1/mcp' }]).ok, true);
    assert.equal(configWith([{ id: 'dotted', namespace: 'a.b', url: 'http://127.0.0.1:1/mcp' }]).ok, false);
  });

  it('may be used by one upstream only', () => {
    const two = upstreamConfigs([
      { id: 'one', namespace: '', url: 'http://127.0.0.1:1/mcp', pinning: 'off' },
      { id: 'two', namespace: '', url: 'http://127.0.0.1:2/mcp', pinning: 'off' },
    ]);
    assert.throws(() => createUpstreams(two, { signer, logger: quiet }), /upstreams\[1\]\.namespace: "" is already used by upstream "one"/);
  });
});
