import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createVerifier } from '../../src/backend/index.js';
import { configSchema, routeSchema } from '../../src/config/schema.js';
import { compileOutgoingHeaders } from '../../src/forward/identity/outgoing-headers.js';
import { prepareIdentity, type IdentityRequest } from '../../src/forward/identity/prepare-identity.js';
import { createAssertionSigner, type AssertionSigner } from '../../src/forward/identity/signed-assertion.js';
import { loadSigningKeys, type SigningKeys } from '../../src/forward/identity/signing-keys.js';
import { ASSERTION_META_KEY, mcpIdentityDelivery } from '../../src/forward/identity/upstream-identity.js';
import { EMPTY_BODY_DIGEST } from '../../src/lib/digest.js';
import { alice } from './fixtures.js';

// The deliveries of prepareIdentity one by one: what each kind of backend gets, and what it
// does not get. identity-parity.test.ts checks the claims across the real gateway.

const ISSUER = 'https://gateway.acme.test';

const upstreamConfig = (upstream: Record<string, unknown>) =>
  configSchema.parse({ server: { publicUrl: ISSUER }, issuers: [{ id: 'idp', issuer: 'https://idp.example.test', audience: ISSUER }], upstreams: [{ id: 'up', pinning: 'off', ...upstream }] }).upstreams[0]!;

const request = (over: Partial<IdentityRequest> = {}): IdentityRequest => ({
  identity: alice,
  requestId: 'req-7',
  audience: 'mcp-backend',
  method: 'post',
  path: '/mcp',
  bodyDigest: EMPTY_BODY_DIGEST,
  signAssertion: true,
  ttlSeconds: 30,
  form: 'jwt',
  ...over,
});

describe('prepareIdentity', () => {
  let dir: string;
  let keys: SigningKeys;
  let signer: AssertionSigner;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-prepare-'));
    keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: 'k.json', rotateAfterDays: 0, overlapSeconds: 60 }, { baseDir: dir });
    signer = createAssertionSigner(keys, { issuer: ISSUER });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('an HTTP upstream MCP server: the assertion in its configured header and in _meta, with X-Request-Id, and nothing else', async () => {
    const delivery = mcpIdentityDelivery(upstreamConfig({ url: 'http://127.0.0.1:1/mcp', identity: { header: 'X-Gateway-Proof' } }));
    const out = await prepareIdentity(signer, delivery, request());
    assert.ok(out.assertion);
    assert.deepEqual(out.headers, { 'X-Gateway-Proof': out.assertion, 'X-Request-Id': 'req-7' });
    assert.deepEqual(out.meta, { [ASSERTION_META_KEY]: out.assertion });
    const caller = await createVerifier({ issuer: ISSUER, audience: 'mcp-backend', header: 'X-Gateway-Proof', keys: keys.publicJwks() }).verify({ method: 'POST', url: '/mcp', headers: { 'x-gateway-proof': out.assertion } });
    assert.equal(caller.user, 'alice');
    assert.equal(caller.claims['exp'] as number - (caller.claims['iat'] as number), 30, 'the lifetime asked for');
  });

  it('an upstream without identity.meta gets no _meta; one over stdio gets no headers (only _meta can carry it there)', async () => {
    const http = await prepareIdentity(signer, mcpIdentityDelivery(upstreamConfig({ url: 'http://127.0.0.1:1/mcp', identity: { meta: false } })), request());
    assert.equal(http.meta, undefined);
    assert.deepEqual(Object.keys(http.headers), ['X-Behalf-Assertion', 'X-Request-Id']);
    const stdio = await prepareIdentity(signer, mcpIdentityDelivery(upstreamConfig({ transport: 'stdio', command: 'node' })), request());
    assert.deepEqual(stdio.headers, {});
    assert.deepEqual(stdio.meta, { [ASSERTION_META_KEY]: stdio.assertion });
  });

  it('a route with its assertion disabled gets its identity headers and no assertion; its client cannot supply one', async () => {
    const builder = compileOutgoingHeaders(routeSchema.parse({ id: 'hr', path: '/api/hr', upstream: 'http://127.0.0.1:1/v1', identityHeaders: { 'X-User-Id': '{user.id}' }, assertion: { enabled: false } }), { publicUrl: ISSUER });
    const out = await prepareIdentity(signer, builder, request({ signAssertion: false, incoming: { 'x-behalf-assertion': 'forged', 'x-user-id': 'bob' } }));
    assert.equal(out.headers['x-behalf-assertion'], undefined);
    assert.equal(out.headers['x-user-id'], 'alice');
    assert.deepEqual(out.stripped.sort(), ['x-behalf-assertion', 'x-user-id']);
  });

  it('the same request gives the same claims through either delivery, apart from jti', async () => {
    const route = compileOutgoingHeaders(routeSchema.parse({ id: 'hr', path: '/api/hr', upstream: 'http://127.0.0.1:1/v1' }), { publicUrl: ISSUER });
    const mcp = mcpIdentityDelivery(upstreamConfig({ url: 'http://127.0.0.1:1/mcp' }));
    const req = request({ tool: 'echo', argumentsDigest: EMPTY_BODY_DIGEST });
    const viaRoute = String((await prepareIdentity(signer, route, req)).headers['x-behalf-assertion']);
    const viaMcp = String((await prepareIdentity(signer, mcp, req)).assertion);
    const claims = (jwt: string) => {
      const { jti, iat, exp, ...rest } = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      assert.equal(typeof jti, 'string');
      assert.equal(exp as number - (iat as number), 30);
      return rest;
    };
    assert.deepEqual(claims(viaRoute), claims(viaMcp));
    assert.equal(claims(viaRoute)['htm'], 'POST');
    assert.equal(claims(viaRoute)['tool'], 'echo');
  });
});
