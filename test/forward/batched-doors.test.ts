import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createVerifier, type RequestLike } from '../../src/backend/index.js';
import { canonicalJson } from '../../src/lib/canonical-json.js';
import { startRecordingBackend, type RecordingBackend } from '../e2e/harness.js';
import { startFeatureUpstream, type FeatureUpstream } from '../mcp/upstreams/feature-server.js';
import { connectAlice, everyBackendKind, startRouteGateway, type RouteGateway } from './route-gateway.js';
import { send } from './fixtures.js';

// Batched assertions through the real gateway and both doors: requests that arrive together are
// signed together, and every backend (an HTTP route, a config tool, an upstream MCP server)
// verifies its own leaf with behalf/backend. A route set to `form: jwt` never gets a batch.

const isBatched = (value: unknown): boolean => typeof value === 'string' && value.includes('~');

let backend: RecordingBackend;
let upstream: FeatureUpstream;
let gw: RouteGateway;
let client: Client;

before(async () => {
  backend = await startRecordingBackend();
  upstream = await startFeatureUpstream();
  const kinds = everyBackendKind(backend.url, upstream.url);
  gw = await startRouteGateway({
    routes: [
      { id: 'hr', path: '/api/hr', upstream: `${backend.url}/v1`, audience: 'hr-backend' },
      { id: 'plain', path: '/api/plain', upstream: `${backend.url}/plain`, audience: 'plain-backend', assertion: { form: 'jwt' } },
      ...kinds.routes,
    ],
    tools: kinds.tools,
    upstreams: kinds.upstreams,
  });
  client = await connectAlice(gw, 'batched-doors', 'hr.chatty');
});
after(async () => {
  await client?.close().catch(() => undefined);
  await gw?.close();
  await upstream?.stop();
  await backend?.close();
});

/** Sends bursts of `size` requests at once until one of them arrives batched (a burst may land over several turns). */
async function burstUntilBatched(size: number, burst: (round: number) => Promise<unknown>[], seenHeaders: () => unknown[]): Promise<void> {
  for (let round = 0; round < 8; round++) {
    await Promise.all(burst(round));
    if (seenHeaders().some(isBatched)) return;
  }
  assert.fail(`no batched assertion in 8 bursts of ${size}`);
}

describe('batched assertions through both doors', () => {
  it('HTTP door: concurrent requests share batches, and each backend request verifies for itself', async () => {
    const auth = await gw.auth();
    const verifier = createVerifier({ issuer: gw.publicUrl, audience: 'hr-backend', keys: gw.gateway.signingKeys.publicJwks() });
    const mine = () => backend.seen.filter((r) => r.url.startsWith('/v1/'));
    await burstUntilBatched(16, (round) => Array.from({ length: 16 }, (_, i) => send(gw.url, { method: 'POST', path: `/api/hr/reviews/${round}-${i}`, headers: { ...auth, 'content-type': 'application/json' }, body: `{"n":${i}}` })), () => mine().map((r) => r.headers['x-behalf-assertion']));
    for (const seen of mine()) {
      const caller = await verifier.verify(seen as RequestLike, seen.body);
      assert.equal(caller.user, 'alice');
      assert.equal(caller.claims['htu'], seen.url);
    }
  });

  it('a route with form: jwt gets one ordinary assertion per request, even in a burst', async () => {
    const auth = await gw.auth();
    await Promise.all(Array.from({ length: 16 }, (_, i) => send(gw.url, { method: 'GET', path: `/api/plain/${i}`, headers: auth })));
    const plain = backend.seen.filter((r) => r.url.startsWith('/plain/'));
    assert.equal(plain.length, 16);
    assert.ok(plain.every((r) => typeof r.headers['x-behalf-assertion'] === 'string' && !isBatched(r.headers['x-behalf-assertion'])));
    const verifier = createVerifier({ issuer: gw.publicUrl, audience: 'plain-backend', keys: gw.gateway.signingKeys.publicJwks(), forms: ['jwt'] });
    for (const seen of plain) await verifier.verify(seen as RequestLike);
  });

  it('MCP door: concurrent config-tool and upstream-tool calls arrive batched and verify at their backends', async () => {
    const toolSeen = () => backend.seen.filter((r) => r.url.startsWith('/reviews/'));
    const upstreamSeen = () => upstream.received.filter((r) => r.method === 'tools/call');
    await burstUntilBatched(
      12,
      (round) => Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? client.callTool({ name: 'get_review', arguments: { employee: `e${round}-${i}` } }) : client.callTool({ name: 'hr.chatty', arguments: { note: `n${round}-${i}` } }))),
      () => [...toolSeen(), ...upstreamSeen()].map((r) => r.headers['x-behalf-assertion']),
    );
    const keys = gw.gateway.signingKeys.publicJwks();
    const reviews = createVerifier({ issuer: gw.publicUrl, audience: 'reviews-backend', keys });
    for (const seen of toolSeen()) assert.equal((await reviews.verify(seen as RequestLike, seen.body, { tool: 'get_review' })).user, 'alice');
    const mcp = createVerifier({ issuer: gw.publicUrl, audience: 'mcp-backend', keys });
    for (const seen of upstreamSeen()) {
      const { _meta, ...params } = seen.params;
      void _meta;
      const caller = await mcp.verify({ method: 'POST', url: seen.target, headers: seen.headers }, canonicalJson(params['arguments']), { tool: 'chatty' });
      assert.equal(caller.user, 'alice');
    }
  });
});
