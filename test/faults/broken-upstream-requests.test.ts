import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dispatcherFetch } from '../../src/mcp-upstream/transport.js';
import { createUpstreams, type Upstreams } from '../../src/mcp-upstream/upstreams.js';
import type { AssertionSigner } from '../../src/forward/identity/signed-assertion.js';
import { callContext, gatewayKeys, quiet, removeTempDirs, tempDir, upstreamConfigs, waitFor } from '../mcp/upstreams/helpers.js';
import { startHostileUpstream, type HostileUpstream } from './hostile-upstream.js';

// The upstream client's side of issue 11 §2, below the door: a broken request is told from a
// broken session on each path a request takes (the gateway's direct tools/call, the SDK's own
// requests), listings survive a broken stream, and a restarted upstream is re-opened once
// without failing the calls that arrive meanwhile. Counts and outcomes only.

let signer: AssertionSigner;
const opened: { set: Upstreams; upstream: HostileUpstream }[] = [];

before(async () => {
  ({ signer } = await gatewayKeys(await tempDir()));
});
after(async () => {
  for (const { set, upstream } of opened.splice(0)) {
    await set.close();
    await upstream.stop();
  }
  await removeTempDirs();
});

/** An upstream and a connected set over it; `sdkPath` sends tools/call through the SDK client. */
async function setUp(opts: { sdkPath?: boolean; breakFirst?: { method: string; count: number } } = {}): Promise<{ set: Upstreams; upstream: HostileUpstream }> {
  const upstream = await startHostileUpstream(opts.breakFirst === undefined ? {} : { breakFirst: opts.breakFirst });
  // A timeout far above anything the test waits for: a broken answer must fail at once, not time out.
  const [cfg] = upstreamConfigs([{ id: 'up', url: upstream.url, pinning: 'off', timeoutMs: 60_000, circuit: { openMs: 20, maxOpenMs: 100 } }]);
  const set = createUpstreams([cfg!], { signer, logger: quiet, ...(opts.sdkPath === true ? { fetch: dispatcherFetch() } : {}) });
  opened.push({ set, upstream });
  await waitFor(() => set.tools().length === 5 && set.status()[0]!.state === 'up', 'the upstream listed');
  return { set, upstream };
}

const call = (set: Upstreams, tool: string, args: Record<string, unknown> = {}) => set.sources()[0]!.call(tool, args, callContext(args));

describe('a broken request is not a broken session', () => {
  for (const sdkPath of [false, true]) {
    it(`${sdkPath ? 'through the SDK client' : 'direct tools/call'}: an answer cut after its head fails that call as an upstream error; the session stays`, async () => {
      const { set, upstream } = await setUp({ sdkPath });
      const sessions = upstream.sessionsOpened;
      for (const tool of ['up.explode', 'up.explode']) {
        const broken = await call(set, tool);
        assert.equal(broken.isError, true);
        assert.deepEqual(broken.content, [{ type: 'text', text: 'upstream error' }]);
        assert.equal(broken.failure, 'upstream-error');
        assert.match(broken.detail ?? '', /^upstream up broke its answer to the call \(/);
      }
      const healthy = await call(set, 'up.lookup', { employee: 'bob' });
      assert.deepEqual(healthy.content, [{ type: 'text', text: 'found bob' }]);
      assert.equal(upstream.sessionsOpened, sessions, 'no new session');
      assert.equal(upstream.calls['explode'], 2, 'a tool not safe to repeat is not sent again');
      assert.deepEqual(set.status()[0], { id: 'up', state: 'up', tools: 5, circuit: 'closed', circuitOpens: 0 });
    });
  }

  it('a read-only tool whose answer was cut is sent once more, over the same session', async () => {
    const { set, upstream } = await setUp({ breakFirst: { method: 'tools/call', count: 1 } });
    const sessions = upstream.sessionsOpened;
    const result = await call(set, 'up.profile', { employee: 'carol' });
    assert.deepEqual(result.content, [{ type: 'text', text: 'found carol' }]);
    assert.equal(upstream.requests['tools/call'], 2, 'the cut call, then its repetition');
    assert.equal(upstream.sessionsOpened, sessions);
  });

  it('an upstream answering JSON-RPC error -32000 itself is an upstream error, not a closed session: not sent again, nothing reconnected', async () => {
    const { set, upstream } = await setUp();
    const sessions = upstream.sessionsOpened;
    const refused = await call(set, 'up.refuse');
    assert.equal(refused.isError, true);
    assert.deepEqual(refused.content, [{ type: 'text', text: 'upstream error' }]);
    assert.equal(refused.detail, 'upstream up answered JSON-RPC error -32000');
    assert.equal(upstream.calls['refuse'], 1, 'a read-only tool is not sent again for an answer');
    assert.equal(upstream.sessionsOpened, sessions);
  });

  it('a tools/list page whose stream breaks is asked for again: the connection comes up on its first session', async () => {
    const { set, upstream } = await setUp({ breakFirst: { method: 'tools/list', count: 2 } });
    assert.equal(upstream.requests['tools/list'], 3, 'two cut, the third answered');
    assert.equal(upstream.sessionsOpened, 1);
    assert.deepEqual(set.status()[0], { id: 'up', state: 'up', tools: 5, circuit: 'closed', circuitOpens: 0 });
  });

  it('an upstream that restarted: the calls arriving meanwhile all go through, over one new session', async () => {
    const { set, upstream } = await setUp();
    await upstream.stop();
    await upstream.start();
    const sessions = upstream.sessionsOpened;
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => call(set, 'up.profile', { employee: `e${i}` })));
    assert.deepEqual(
      results.map((r) => r.content),
      results.map((_, i) => [{ type: 'text', text: `found e${i}` }]),
    );
    assert.equal(upstream.sessionsOpened, sessions + 1, 'one new session for all of them');
    assert.equal(set.status()[0]!.circuitOpens, 0, 'a restart the gateway reconnected to at once is no outage');
  });
});
