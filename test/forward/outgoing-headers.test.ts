import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import type { Identity } from '../../src/authenticate/identity.js';
import { createVerifier } from '../../src/backend/index.js';
import { routeSchema, type RouteConfig } from '../../src/config/schema.js';
import { isBehalfError } from '../../src/errors.js';
import { compileOutgoingHeaders } from '../../src/forward/identity/outgoing-headers.js';
import { alice, close, listen, send } from './fixtures.js';
import { ALICE_CLIENT, startRouteGateway, TENANT } from './route-gateway.js';

interface Vector {
  name: string;
  value: string;
  gatewaySets?: boolean;
}
const vectors = JSON.parse(await readFile(new URL('../vectors/headers/spoofed-identity.json', import.meta.url), 'utf8')) as { stripped: Vector[]; kept: Vector[] };

const PUBLIC_URL = 'https://gateway.acme.test';

/** The route of these tests, as written in a config. */
const ROUTE = {
  id: 'hr',
  path: '/api/hr',
  upstream: 'http://127.0.0.1:1/v1',
  identityHeaders: { 'X-User-Id': '{user.id}', 'X-User-Email': '{user.email}', 'X-User-Roles': '{user.roles}', 'X-Hr-Employee': '{user.id}@{user.tenant}' },
};

function route(over: Record<string, unknown> = {}): RouteConfig {
  return routeSchema.parse({ ...ROUTE, ...over });
}

const headersOf = (vs: Vector[]): IncomingHttpHeaders => Object.fromEntries(vs.map((v) => [v.name.toLowerCase(), v.value]));

function build(r: RouteConfig, incoming: IncomingHttpHeaders, extra: { identity?: Identity; bodyLength?: number; serverStripHeaders?: string[] } = {}) {
  return compileOutgoingHeaders(r, { publicUrl: PUBLIC_URL, serverStripHeaders: extra.serverStripHeaders ?? [] }).build({
    incoming,
    identity: extra.identity ?? alice,
    requestId: 'req-1',
    clientAddress: '127.0.0.1',
    ...(extra.bodyLength === undefined ? {} : { bodyLength: extra.bodyLength }),
  }, 'signed.assertion.value');
}

describe('outgoing headers', () => {
  it('removes every spoofed identity header of the vector file and keeps ordinary ones', () => {
    const out = build(route({ identityHeaders: {} }), { ...headersOf(vectors.stripped), ...headersOf(vectors.kept) });
    for (const v of vectors.stripped) {
      const sent = out.headers[v.name.toLowerCase()];
      if (v.gatewaySets) assert.notEqual(sent, v.value, `${v.name} carries the gateway's value, not the client's`);
      else assert.equal(sent, undefined, `${v.name} must not reach the backend`);
    }
    for (const v of vectors.kept) assert.equal(out.headers[v.name.toLowerCase()], v.value, `${v.name} is forwarded`);
    assert.ok(out.stripped.includes('x-user-id') && out.stripped.includes('impersonate-user'), 'spoof attempts are reported for the audit record');
    assert.ok(!out.stripped.includes('authorization'), 'the bearer token is routine, not a spoof');
  });

  it('never passes a header value the client sent for an injected or assertion header name', () => {
    const out = build(route(), { 'x-hr-employee': 'bob@acme', 'x-user-email': 'bob@acme.test', 'x-behalf-assertion': 'forged' });
    assert.equal(out.headers['x-hr-employee'], 'alice@acme');
    assert.equal(out.headers['x-user-email'], 'alice@acme.test');
    assert.equal(out.headers['x-behalf-assertion'], 'signed.assertion.value');
    assert.ok(out.stripped.includes('x-hr-employee'));
  });

  it('keeps the assertion header name reserved even when the route renames it', () => {
    const r = route({ assertion: { header: 'X-Gateway-Proof' } });
    const out = build(r, { 'x-gateway-proof': 'forged' });
    assert.equal(out.headers['x-gateway-proof'], 'signed.assertion.value');
    assert.ok(out.stripped.includes('x-gateway-proof'));
  });

  it('removes hop-by-hop headers and every header named in Connection', () => {
    const out = build(route(), {
      connection: 'keep-alive, X-Debug-Token',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      'proxy-connection': 'keep-alive',
      'x-debug-token': 'abc',
      host: 'gateway.acme.test',
      expect: '100-continue',
      'content-length': '999',
    });
    for (const name of ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection', 'x-debug-token', 'host', 'expect', 'content-length']) {
      assert.equal(out.headers[name], undefined, name);
    }
  });

  it('removes the configured server and route strip lists, case-insensitively', () => {
    const out = build(route({ stripHeaders: ['X-Hr-Override'] }), { 'x-hr-override': '1', 'x-company-sso': 'bob', 'x-keep': 'yes' }, { serverStripHeaders: ['X-Company-SSO'] });
    assert.equal(out.headers['x-hr-override'], undefined);
    assert.equal(out.headers['x-company-sso'], undefined);
    assert.equal(out.headers['x-keep'], 'yes');
  });

  it('drops cookies unless the route forwards them', () => {
    assert.equal(build(route(), { cookie: 'a=1' }).headers['cookie'], undefined);
    assert.equal(build(route({ forwardCookies: true }), { cookie: 'a=1' }).headers['cookie'], 'a=1');
  });

  it('replaces client X-Forwarded-* with the socket address and the public URL, and sets the request id', () => {
    const out = build(route(), { 'x-forwarded-for': '10.9.9.9, 10.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil', 'x-request-id': 'client-chosen' });
    assert.equal(out.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(out.headers['x-forwarded-proto'], 'https');
    assert.equal(out.headers['x-forwarded-host'], 'gateway.acme.test');
    assert.equal(out.headers['x-request-id'], 'req-1');
  });

  it('recomputes Content-Length from the buffered body and sends none without a body', () => {
    assert.equal(build(route(), { 'content-length': '5' }, { bodyLength: 12 }).headers['content-length'], '12');
    assert.equal(build(route(), { 'content-length': '5' }).headers['content-length'], undefined);
    assert.equal(build(route(), { 'content-encoding': 'gzip' }, { bodyLength: 3 }).headers['content-encoding'], 'gzip');
  });

  it('renders templates from the identity and the directory', () => {
    const r = route({ identityHeaders: { 'X-Who': '{user.id}@{user.tenant} via {user.client}', 'X-Dept': '{user.department}', 'X-Groups-Of-User': '{user.groups}', 'X-Mgr': '{ user.manager }' } });
    const out = compileOutgoingHeaders(r, { publicUrl: PUBLIC_URL }).build({
      incoming: {},
      identity: alice,
      requestId: 'r',
      directory: { id: 'alice', department: 'Platform', manager: 'erin', reports: ['bob', 'carol'], team: ['bob', 'carol'] },
    });
    assert.equal(out.headers['x-who'], 'alice@acme via chatgpt-connector');
    assert.equal(out.headers['x-dept'], 'Platform');
    assert.equal(out.headers['x-groups-of-user'], 'platform');
    assert.equal(out.headers['x-mgr'], 'erin');
    assert.deepEqual(out.dropped, []);
  });

  const unsafe: [string, Partial<Identity>, string][] = [
    ['CR/LF injection in the email', { email: 'alice@acme.test\r\nX-User-Id: bob' }, 'x-user-email'],
    ['a bare LF', { email: 'alice@acme.test\nX-Admin: 1' }, 'x-user-email'],
    ['a NUL byte', { id: 'alice\u0000bob' }, 'x-user-id'],
    ['non-ASCII', { id: 'alïce' }, 'x-user-id'],
    ['leading whitespace', { id: ' alice' }, 'x-user-id'],
    ['a role with a comma (would read as two roles)', { roles: ['employee', 'admin,manager'] }, 'x-user-roles'],
  ];
  for (const [name, change, header] of unsafe) {
    it(`drops and reports an identity header with ${name}, keeping the others`, () => {
      const out = build(route(), {}, { identity: { ...alice, ...change } });
      assert.equal(out.headers[header], undefined);
      assert.deepEqual(out.dropped, [{ header, problem: 'invalid' }].concat(header === 'x-user-id' ? [{ header: 'x-hr-employee', problem: 'invalid' }] : []));
      for (const v of Object.values(out.headers)) assert.doesNotMatch(String(v), /[\r\n\0]/);
      assert.equal(out.headers['x-behalf-assertion'], 'signed.assertion.value');
    });
  }

  it('drops and reports a header whose value is missing (no email, no directory)', () => {
    const { email: _drop, ...noEmail } = alice;
    const out = build(route({ identityHeaders: { 'X-User-Email': '{user.email}', 'X-Dept': '{user.department}', 'X-User-Id': '{user.id}' } }), {}, { identity: noEmail });
    assert.deepEqual(out.dropped, [
      { header: 'x-user-email', problem: 'missing' },
      { header: 'x-dept', problem: 'missing' },
    ]);
    assert.equal(out.headers['x-user-id'], 'alice');
  });

  for (const [template, why] of [
    ['{user.password}', 'unknown placeholder'],
    ['{user.id', 'without "}"'],
    ['user.id}', 'without "{"'],
    ['{user.id}\r\nX-Admin: 1', 'not allowed in a header'],
  ] as const) {
    it(`refuses the template ${JSON.stringify(template)} at start-up (${why})`, () => {
      assert.throws(
        () => compileOutgoingHeaders(route({ identityHeaders: { 'X-Bad': template } }), { publicUrl: PUBLIC_URL }),
        (err: unknown) => isBehalfError(err, 'config-invalid') && err.message.includes('routes[hr].identityHeaders.X-Bad') && err.message.includes(why),
      );
    });
  }

  it('end to end over HTTP, through the real gateway: the backend sees only verified identity, and the assertion verifies', async () => {
    let seen: { headers: IncomingHttpHeaders; url: string; method: string; body: string } | undefined;
    const upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen = { headers: req.headers, url: req.url ?? '', method: req.method ?? '', body: Buffer.concat(chunks).toString() };
        res.end('ok');
      });
    });
    const upstreamUrl = await listen(upstream);
    const { id: _id, path: _path, upstream: _upstream, ...rules } = ROUTE;
    const gw = await startRouteGateway({ server: { publicUrl: PUBLIC_URL }, routes: [{ id: 'hr', path: '/api/hr', upstream: `${upstreamUrl}/v1`, ...rules }] });
    try {
      // Every spoofed header, and the real token (the vector's Authorization is a stolen one).
      const spoofed = Object.fromEntries(vectors.stripped.filter((v) => v.name !== 'Authorization').map((v) => [v.name, v.value]));
      const reply = await send(gw.url, { method: 'POST', path: '/api/hr/reviews/bob?year=2024', headers: { ...spoofed, ...(await gw.auth()), 'content-type': 'application/json' }, body: '{"rating":4}' });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), 'ok');
      assert.ok(seen);
      for (const v of vectors.stripped) {
        if (!v.gatewaySets) assert.equal(seen.headers[v.name.toLowerCase()] === v.value, false, `${v.name} reached the backend with the client's value`);
      }
      assert.equal(seen.headers['authorization'], undefined);
      assert.equal(seen.headers['cookie'], undefined);
      assert.equal(seen.headers['x-user-id'], 'alice');
      assert.equal(seen.headers['x-hr-employee'], `alice@${TENANT}`);
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(seen.headers['x-forwarded-host'], 'gateway.acme.test');
      assert.equal(seen.headers['x-request-id'], reply.headers['x-request-id']);
      assert.equal(seen.url, '/v1/reviews/bob?year=2024');
      const verifier = createVerifier({ issuer: PUBLIC_URL, audience: upstreamUrl, keys: gw.gateway.signingKeys.publicJwks() });
      const caller = await verifier.verify({ method: seen.method, url: seen.url, headers: seen.headers }, seen.body);
      assert.equal(caller.user, 'alice');
      assert.equal(caller.client, ALICE_CLIENT);
      const record = await gw.recordOf(String(reply.headers['x-request-id']));
      assert.match(record.detail ?? '', /x-user-id/, 'the stripped spoof attempts are in the audit record');
    } finally {
      await gw.close();
      await close(upstream);
    }
  });
});
