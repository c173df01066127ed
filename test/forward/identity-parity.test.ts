import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createVerifier, type RequestLike } from '../../src/backend/index.js';
import { ASSERTION_META_KEY } from '../../src/forward/identity/upstream-identity.js';
import { canonicalJson } from '../../src/lib/canonical-json.js';
import { startRecordingBackend, type RecordingBackend } from '../e2e/harness.js';
import { startFeatureUpstream, type FeatureUpstream } from '../mcp/upstreams/feature-server.js';
import { ALICE, ALICE_CLIENT, ALICE_SCOPES, connectAlice, everyBackendKind, startRouteGateway, TENANT, type RouteGateway } from './route-gateway.js';
import { send } from './fixtures.js';

// One user, one gateway, every kind of backend: an HTTP route, a tool declared in the config, an
// upstream MCP server's tool and a request relayed to it (resources/read). Each backend verifies
// the assertion it got with `behalf/backend`; apart from the claims that bind it to its request,
// the claim sets are the same bytes, because one code path writes what they say about the user
// and the acting client.

/** The claims that bind an assertion to one request: everything else is about the caller. */
const BINDING = new Set(['aud', 'htm', 'htu', 'bdg', 'tool', 'args', 'jti', 'iat', 'exp']);

/** The payload's claims in the order the gateway signed them. */
function claimsOf(jwt: string): [string, unknown][] {
  const payload = jwt.split('.')[1];
  assert.ok(payload !== undefined, 'not a compact JWS');
  return Object.entries(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>);
}

/** The caller claims as the bytes a backend would hash or compare. */
const callerClaims = (jwt: string): string => JSON.stringify(Object.fromEntries(claimsOf(jwt).filter(([name]) => !BINDING.has(name))));
const bindingClaims = (jwt: string): Record<string, unknown> => Object.fromEntries(claimsOf(jwt).filter(([name]) => BINDING.has(name)));

const single = (v: string | string[] | undefined): string => {
  assert.equal(typeof v, 'string', 'exactly one assertion header');
  return v as string;
};

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
      { id: 'hr', path: '/api/hr', upstream: `${backend.url}/v1`, audience: 'hr-backend', identityHeaders: { 'X-User-Id': '{user.id}' } },
      ...kinds.routes,
    ],
    tools: kinds.tools,
    upstreams: kinds.upstreams,
  });
  client = await connectAlice(gw, 'identity-parity', 'hr.chatty');
});
after(async () => {
  await client?.close().catch(() => undefined);
  await gw?.close();
  await upstream?.stop();
  await backend?.close();
});

describe('the identity every kind of backend receives', () => {
  it('is the same claim set, byte for byte, apart from the request binding; each assertion verifies for its own request', async () => {
    const jwks = gw.gateway.signingKeys.publicJwks();
    const verify = (audience: string, req: RequestLike, body: string | Buffer) => createVerifier({ issuer: gw.publicUrl, audience, keys: jwks }).verify(req, body);

    // An HTTP route.
    const body = '{"rating":"exceeds"}';
    const reply = await send(gw.url, { method: 'POST', path: '/api/hr/reviews/bob?year=2026', headers: { ...(await gw.auth()), 'content-type': 'application/json' }, body });
    assert.equal(reply.status, 200, reply.body.toString());
    const routeSeen = backend.seen.find((r) => r.url === '/v1/reviews/bob?year=2026');
    assert.ok(routeSeen, 'the route backend got the request');
    const route = single(routeSeen.headers['x-behalf-assertion']);
    await verify('hr-backend', routeSeen, routeSeen.body);

    // A config tool.
    const toolResult = await client.callTool({ name: 'get_review', arguments: { employee: 'bob' } });
    assert.notEqual(toolResult.isError, true, JSON.stringify(toolResult));
    const toolSeen = backend.seen.find((r) => r.url === '/reviews/bob');
    assert.ok(toolSeen, 'the tool backend got the request');
    const tool = single(toolSeen.headers['x-behalf-assertion']);
    await verify('reviews-backend', toolSeen, toolSeen.body);

    // An upstream MCP server's tool: bound to the arguments (the JSON-RPC body carries the assertion itself).
    const args = { note: 'q3', period: 2026 };
    const upstreamResult = await client.callTool({ name: 'hr.chatty', arguments: args });
    assert.notEqual(upstreamResult.isError, true, JSON.stringify(upstreamResult));
    const callSeen = upstream.received.find((r) => r.method === 'tools/call');
    assert.ok(callSeen, 'the upstream got the tool call');
    const upstreamCall = single(callSeen.headers['x-behalf-assertion']);
    assert.equal((callSeen.params['_meta'] as Record<string, unknown> | undefined)?.[ASSERTION_META_KEY], upstreamCall, 'the _meta copy is the header one');
    await verify('mcp-backend', { method: 'POST', url: callSeen.target, headers: callSeen.headers }, canonicalJson(args));

    // A request relayed to the same upstream: bound to its params.
    const read = await client.readResource({ uri: 'hr://reviews/bob' });
    assert.equal((read.contents[0] as { text?: string } | undefined)?.text, 'Review of bob');
    const readSeen = upstream.received.find((r) => r.method === 'resources/read');
    assert.ok(readSeen, 'the upstream got the read');
    const relayed = single(readSeen.headers['x-behalf-assertion']);
    const { _meta: readMeta, ...readParams } = readSeen.params;
    assert.equal((readMeta as Record<string, unknown> | undefined)?.[ASSERTION_META_KEY], relayed);
    await verify('mcp-backend', { method: 'POST', url: readSeen.target, headers: readSeen.headers }, canonicalJson(readParams));

    // What they say about the caller: identical bytes, and really about Alice and her client.
    const expected = callerClaims(route);
    for (const [kind, jwt] of [['config tool', tool], ['upstream tool call', upstreamCall], ['relayed upstream request', relayed]] as const) {
      assert.equal(callerClaims(jwt), expected, `${kind}: the caller claims differ from the route's`);
    }
    assert.deepEqual(JSON.parse(expected), {
      iss: gw.publicUrl,
      sub: ALICE.id,
      roles: ALICE.roles,
      scope: ALICE_SCOPES.join(' '),
      idp_iss: gw.idp.issuer,
      tenant: TENANT,
      email: ALICE.email,
      name: ALICE.name,
      groups: ALICE.groups,
      act: { sub: ALICE_CLIENT },
      azp: ALICE_CLIENT,
    });

    // What binds each to its request: only these differ.
    const bindings = [route, tool, upstreamCall, relayed].map(bindingClaims);
    const pick = (b: Record<string, unknown>) => ({ aud: b['aud'], htm: b['htm'], htu: b['htu'], tool: b['tool'], args: b['args'] });
    assert.deepEqual(bindings.map(pick), [
      { aud: 'hr-backend', htm: 'POST', htu: '/v1/reviews/bob?year=2026', tool: undefined, args: undefined },
      { aud: 'reviews-backend', htm: 'GET', htu: '/reviews/bob', tool: 'get_review', args: bindings[1]!['args'] },
      { aud: 'mcp-backend', htm: 'POST', htu: new URL(upstream.url).pathname, tool: 'chatty', args: bindings[2]!['bdg'] },
      { aud: 'mcp-backend', htm: 'POST', htu: new URL(upstream.url).pathname, tool: undefined, args: undefined },
    ]);
    assert.match(String(bindings[1]!['args']), /^sha256:/, 'the config tool carries its arguments digest');
    assert.equal(new Set(bindings.map((b) => b['jti'])).size, 4, 'every assertion has its own jti');
  });
});
