import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import type { Identity } from '../../src/authenticate/identity.js';
import { createVerifier } from '../../src/backend/index.js';
import { routeSchema, type RouteConfig } from '../../src/config/schema.js';
import { isBehalfError } from '../../src/errors.js';
import { compileOutgoingHeaders } from '../../src/forward/identity/outgoing-headers.js';
import { normalizeHeaderName } from '../../src/forward/identity/stripped-headers.js';
import { alice, close, listen, send } from './fixtures.js';
import { ALICE_CLIENT, startRouteGateway, TENANT } from './route-gateway.js';

interface Vector {
  name: string;
  value: string;
  gatewaySets?: boolean;
  routine?: boolean;
}
interface VectorFile {
  stripped: Vector[];
  kept: Vector[];
}
const VECTOR_DIR = new URL('../vectors/headers/', import.meta.url);
const vectorFiles = await Promise.all(
  (await readdir(VECTOR_DIR))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map(async (file) => ({ file, ...(JSON.parse(await readFile(new URL(file, VECTOR_DIR), 'utf8')) as VectorFile) })),
);
const vectors = vectorFiles.find((v) => v.file === 'spoofed-identity.json')!;

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

/** The names the gateway sets itself on the route of {@link route}. */
const GATEWAY_SETS = ['x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'content-length', 'x-behalf-assertion', ...Object.keys(ROUTE.identityHeaders).map((h) => h.toLowerCase())];

/** No upstream header, under any spelling of the vector's name, carries the client's value. */
function assertNotForwarded(out: { headers: Record<string, string | string[]> }, v: Vector, where: string): void {
  for (const [name, sent] of Object.entries(out.headers)) {
    if (normalizeHeaderName(name) !== normalizeHeaderName(v.name)) continue;
    assert.ok(v.gatewaySets === true || GATEWAY_SETS.includes(name), `${where}: ${v.name} reached the backend as ${name}`);
    assert.notEqual(sent, v.value, `${where}: ${v.name} reached the backend with the client's value (as ${name})`);
  }
}

describe('header vectors (test/vectors/headers/*.json)', () => {
  assert.ok(vectorFiles.length >= 3, 'the vector files were found');
  for (const { file, stripped, kept } of vectorFiles) {
    const incoming = (): IncomingHttpHeaders => ({ ...headersOf(stripped), ...headersOf(kept) });

    it(`${file}: every stripped header is removed and reported, every kept one passes as spelled`, () => {
      const out = build(route(), incoming());
      for (const v of stripped) {
        assertNotForwarded(out, v, file);
        if (v.routine !== true) assert.ok(out.stripped.includes(v.name.toLowerCase()), `${v.name} is not named for the audit record`);
        else assert.ok(!out.stripped.includes(v.name.toLowerCase()), `${v.name} is routine, not a spoof`);
      }
      for (const v of kept) assert.equal(out.headers[v.name.toLowerCase()], v.value, `${v.name} is forwarded`);
      assert.equal(out.headers['x-user-id'], 'alice', 'the injected X-User-Id carries the verified user');
    });

    it(`${file}: with forwardHeaders, only listed names in normal form pass; stripped ones are still reported`, () => {
      const listed = kept.slice(0, -1).map((v) => normalizeHeaderName(v.name));
      const out = build(route({ forwardHeaders: listed }), incoming());
      for (const v of stripped) {
        assertNotForwarded(out, v, file);
        if (v.routine !== true) assert.ok(out.stripped.includes(v.name.toLowerCase()), `${v.name} is not named for the audit record`);
      }
      for (const v of kept) {
        const passes = listed.includes(v.name.toLowerCase());
        assert.equal(out.headers[v.name.toLowerCase()], passes ? v.value : undefined, `${v.name} ${passes ? 'is listed' : 'is not listed (or not in normal form)'}`);
      }
      for (const name of Object.keys(out.headers)) {
        assert.ok(listed.includes(name) || GATEWAY_SETS.includes(name), `${name} is neither listed nor set by the gateway`);
      }
      assert.ok(!kept.some((v) => out.stripped.includes(v.name.toLowerCase())), 'an ordinary header left out of the list is dropped quietly');
    });
  }
});

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

  it('matches the configured strip lists, injected names and the assertion header under any spelling', () => {
    const r = route({ stripHeaders: ['X-Hr-Override'] });
    const out = build(r, { x_hr_override: '1', 'x-company_sso': 'bob', x_hr_employee: 'bob@acme', 'x-behalf_assertion': 'forged', 'x-keep_me': 'yes' }, { serverStripHeaders: ['X_Company_SSO'] });
    assert.deepEqual(out.stripped.sort(), ['x-behalf_assertion', 'x-company_sso', 'x_hr_employee', 'x_hr_override']);
    for (const name of out.stripped) assert.equal(out.headers[name], undefined, name);
    assert.equal(out.headers['x-hr-employee'], 'alice@acme');
    assert.equal(out.headers['x-behalf-assertion'], 'signed.assertion.value');
    assert.equal(out.headers['x-keep_me'], 'yes', 'an ordinary name with "_" passes as spelled');
  });

  it('removes a header that Connection names in another spelling', () => {
    const out = build(route(), { connection: 'X_Debug_Token', 'x-debug-token': 'abc', x_debug_token: 'abc', 'x-keep': 'yes' });
    assert.equal(out.headers['x-debug-token'], undefined);
    assert.equal(out.headers['x_debug_token'], undefined);
    assert.equal(out.headers['x-keep'], 'yes');
  });

  it('with forwardHeaders, cookies still follow forwardCookies and what the gateway sets is still set', () => {
    const incoming = { cookie: 'a=1', accept: 'application/json', 'x-other': '1', 'content-type': 'application/json', 'content-length': '2' };
    const out = build(route({ forwardHeaders: ['Accept'], forwardCookies: true }), incoming, { bodyLength: 2 });
    assert.deepEqual(Object.keys(out.headers).sort(), ['accept', 'content-length', 'cookie', 'x-behalf-assertion', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-hr-employee', 'x-request-id', 'x-user-email', 'x-user-id', 'x-user-roles']);
    assert.equal(out.headers['content-length'], '2');
    assert.deepEqual(build(route({ forwardHeaders: [] }), incoming).stripped, [], 'ordinary headers are dropped quietly');
    assert.equal(build(route({ forwardHeaders: ['accept'] }), incoming).headers['cookie'], undefined);
  });

  for (const [name, over, why] of [
    ['X-User-Id', {}, 'an identity header'],
    ['X_Forwarded_User', {}, 'an identity header'],
    ['Cf-Access-Jwt-Assertion', {}, 'an identity header'],
    ['Authorization', {}, 'always removes or sets'],
    ['Content-Length', {}, 'always removes or sets'],
    ['X-Hr-Employee', {}, 'the gateway sets this header'],
    ['X-Gateway-Proof', { assertion: { header: 'X-Gateway-Proof' } }, 'the gateway sets this header'],
    ['X-Legacy-Login', { stripHeaders: ['X_Legacy_Login'] }, 'stripHeaders'],
    ['Cookie', {}, 'forwardCookies'],
  ] as const) {
    it(`refuses forwardHeaders naming ${name} at start-up (${why})`, () => {
      assert.throws(
        () => compileOutgoingHeaders(route({ ...over, forwardHeaders: ['Accept', name] }), { publicUrl: PUBLIC_URL }),
        (err: unknown) => isBehalfError(err, 'config-invalid') && err.message.startsWith(`routes[hr].forwardHeaders.${name}: `) && err.message.includes(why),
      );
    });
  }

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
