import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import type { ConfigInput } from '../../src/config/schema.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { auditRecordOf, startQuietIdp } from '../e2e/e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from '../e2e/harness.js';
import { DEFINITIONS, TestSource, testCatalog } from '../mcp/door/harness.js';
import { RawConnection } from './raw-connection.js';

/**
 * Issue 11 §5, slow and idle clients, on both doors of the one listener (routes under `/api`,
 * the MCP endpoint at POST `/mcp`), with short timeouts: the head within 1 s, the whole request
 * within 2 s. Node checked these timeouts only every 30 s, so a 408 came 3-30 s late; it must now
 * come within a second of the setting (a generous bound for a loaded 2-core machine), carry a
 * request id, and have an audit record with that id that says 408 `request-timeout` (the body
 * trickle used to be recorded as 400 "client stream error" under another id). A body on a method
 * that has none is refused before it can reach a backend, a declared body past the bound is
 * refused before `100 Continue` invites it, and connections past the caps are closed on accept,
 * counted, and audited as one record plus a summary, not one record each.
 */

const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 2_000;
/** How late a 408 may be: the bound. */
const SLACK_MS = 1_000;

interface Env {
  idp: DevIdp;
  backend: RecordingBackend;
  gw: TestGateway;
  token: string;
}

async function startEnv(server: Partial<NonNullable<ConfigInput['server']>>): Promise<Env> {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const backend = await startRecordingBackend();
  const idp = await startQuietIdp(publicUrl);
  const token = await idp.mint('alice', { audience: [publicUrl, `${publicUrl}/mcp`] });
  const source = new TestSource('config', async () => ({ content: [{ type: 'text', text: 'ok' }] }));
  const gw = await startTestGateway(
    {
      server: { port, publicUrl, ...server },
      issuers: [{ id: 'idp', issuer: idp.issuer, audience: [publicUrl, `${publicUrl}/mcp`] }],
      routes: [
        { id: 'api', path: '/api', upstream: backend.url },
        { id: 'search', path: '/search', upstream: backend.url, allowBodyOn: ['DELETE'] },
      ],
      policies: [
        { id: 'routes', effect: 'allow', match: { routes: ['api', 'search'] } },
        { id: 'tools', effect: 'allow', match: { tools: ['whoami'] } },
      ],
    },
    { toolCatalog: testCatalog([{ definition: DEFINITIONS['whoami']!, source }]) },
  );
  return { idp, backend, gw, token };
}

async function stopEnv(env: Env | undefined): Promise<void> {
  await env?.gw.close();
  await env?.idp.close();
  await env?.backend.close();
}

/** The request id of a raw answer: its `X-Request-Id`, which the JSON body must repeat. */
function requestIdOf(conn: RawConnection): string {
  const id = conn.header('x-request-id');
  assert.ok(id !== undefined && id.length >= 16, `the answer names a request id: ${conn.text.slice(0, 300)}`);
  assert.match(conn.body, new RegExp(`"requestId":"${id}"`), 'the body names the same request id');
  return id;
}

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'slow-client', version: '1' } },
});

describe('slow and idle clients (headers 1 s, request 2 s)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  });
  after(() => stopEnv(env));

  const head = (method: string, path: string, extra: string) => `${method} ${path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${env.token}\r\n${extra}\r\n`;

  it('slowloris (a header byte every 200 ms) gets 408 within 1 s of the header timeout, with a request id its audit record has', async () => {
    const probes = await Promise.all(['/api/reviews', '/mcp'].map((path) => RawConnection.open(env.gw.url).then((conn) => ({ path, conn }))));
    await Promise.all(
      probes.map(async ({ path, conn }) => {
        conn.write(`POST ${path} HTTP/1.1\r\nHost: gw\r\n`);
        await conn.trickle(`X-Slow: ${'a'.repeat(200)}`, 200);
      }),
    );
    for (const { path, conn } of probes) {
      assert.ok(conn.closed, `${path}: closed`);
      const elapsed = conn.closedAt! - conn.openedAt;
      assert.equal(conn.finalStatus, 408, `${path}: ${conn.text.slice(0, 200)}`);
      assert.ok(elapsed >= HEADERS_TIMEOUT_MS - 100, `${path}: 408 after ${elapsed.toFixed(0)} ms, before the ${HEADERS_TIMEOUT_MS} ms timeout`);
      assert.ok(elapsed <= HEADERS_TIMEOUT_MS + SLACK_MS, `${path}: 408 after ${elapsed.toFixed(0)} ms, more than ${SLACK_MS} ms past the ${HEADERS_TIMEOUT_MS} ms timeout`);
      assert.match(conn.body, /"error":"request-timeout"/);
      const record = await auditRecordOf(env.gw, requestIdOf(conn));
      assert.equal(record.status, 408);
      assert.equal(record.reason, 'request-timeout');
      assert.equal(record.decision, 'deny');
    }
  });

  it('a connection that sends nothing is closed with 408 after the header timeout too', async () => {
    const conn = await RawConnection.open(env.gw.url);
    assert.ok(await conn.untilClosed(HEADERS_TIMEOUT_MS + SLACK_MS), 'the idle connection is closed');
    assert.equal(conn.finalStatus, 408);
  });

  it('a body trickle gets 408 within 1 s of the request timeout on both doors, answered and audited as the same request', async () => {
    const seen = env.backend.seen.length;
    const routeConn = await RawConnection.open(env.gw.url);
    const mcpConn = await RawConnection.open(env.gw.url);
    routeConn.write(head('POST', '/api/reviews', 'Content-Type: application/json\r\nContent-Length: 1000\r\n'));
    mcpConn.write(head('POST', '/mcp', 'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000\r\n'));
    // Refused (401) at once, while its body keeps trickling: no second answer when it times out.
    const refusedConn = await RawConnection.open(env.gw.url);
    refusedConn.write('POST /api/reviews HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\n\r\n');
    await Promise.all([
      routeConn.trickle(`{"a":"${'x'.repeat(900)}"}`, 200),
      mcpConn.trickle(`{"jsonrpc":"2.0","id":1,"x":"${'x'.repeat(900)}"}`, 200),
      refusedConn.trickle('x'.repeat(1000), 200),
    ]);
    assert.equal(refusedConn.finalStatus, 401);
    assert.equal(refusedConn.text.match(/HTTP\/1\.1 /g)?.length, 1, `one answer only: ${refusedConn.text.slice(0, 400)}`);
    assert.ok(refusedConn.closed && refusedConn.closedAt! - refusedConn.openedAt <= REQUEST_TIMEOUT_MS + SLACK_MS, 'its connection is cut at the request timeout');
    const expected = new Map<RawConnection, { door: string; route?: string }>([
      [routeConn, { door: 'http', route: 'api' }],
      [mcpConn, { door: 'mcp' }],
    ]);
    for (const [conn, where] of expected) {
      assert.ok(conn.closed, `${where.door}: closed`);
      const answeredAfter = conn.closedAt! - conn.openedAt;
      assert.equal(conn.finalStatus, 408, `${where.door}: ${conn.text.slice(0, 300)}`);
      assert.ok(answeredAfter >= REQUEST_TIMEOUT_MS - 100, `${where.door}: 408 after ${answeredAfter.toFixed(0)} ms, before the timeout`);
      assert.ok(answeredAfter <= REQUEST_TIMEOUT_MS + SLACK_MS, `${where.door}: 408 after ${answeredAfter.toFixed(0)} ms, more than ${SLACK_MS} ms late`);
      assert.match(conn.body, /request-timeout/);
      assert.equal(conn.header('connection'), 'close');
      const record = await auditRecordOf(env.gw, requestIdOf(conn));
      assert.equal(record.status, 408, `${where.door}: audited status`);
      assert.equal(record.reason, 'request-timeout', `${where.door}: audited reason (not "client stream error")`);
      assert.equal(record.door, where.door);
      assert.equal(record.user, 'alice', `${where.door}: the record is the request's own, after authentication`);
      if (where.route !== undefined) assert.equal(record.route, where.route);
    }
    assert.equal(env.backend.seen.length, seen, 'nothing reached the backend');
    assert.equal(env.gw.gateway.server.listening, true);
  });

  it('a chunked body whose framing breaks mid-request is answered 400 malformed-request as that request, on both doors, and audited so', async () => {
    const seen = env.backend.seen.length;
    const cases = [
      { door: 'http', conn: await RawConnection.open(env.gw.url), start: head('POST', '/api/reviews', 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n') },
      { door: 'mcp', conn: await RawConnection.open(env.gw.url), start: head('POST', '/mcp', 'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n') },
    ];
    for (const c of cases) {
      c.conn.write(c.start);
      c.conn.write('5\r\n{"a":\r\n'); // a good chunk: the pipeline has the request by now
      await new Promise((r) => setTimeout(r, 100));
      c.conn.write('zz\r\nbroken\r\n'); // not a chunk size
    }
    for (const { door, conn } of cases) {
      assert.ok(await conn.untilClosed(2_000), `${door}: closed`);
      assert.equal(conn.text.match(/HTTP\/1\.1 /g)?.length, 1, `${door}: one answer only: ${conn.text.slice(0, 300)}`);
      assert.equal(conn.finalStatus, 400, `${door}: ${conn.text.slice(0, 300)}`);
      assert.match(conn.body, /malformed-request/);
      const record = await auditRecordOf(env.gw, requestIdOf(conn));
      assert.equal(record.reason, 'malformed-request', `${door}: the request's own record says why (not "client stream error")`);
      assert.equal(record.status, 400);
      assert.equal(record.door, door);
      assert.equal(record.user, 'alice', `${door}: the record is the request's own, after authentication`);
      assert.match(record.detail ?? '', /HPE_INVALID_CHUNK_SIZE/);
    }
    assert.equal(env.backend.seen.length, seen, 'nothing reached the backend');
  });

  it('a body on GET, HEAD or DELETE is refused (400 body-not-allowed) and never forwarded; a route may allow it on DELETE', async () => {
    const seen = env.backend.seen.length;
    const cases: { method: string; path: string; framing: string; status: number; reason?: string }[] = [
      { method: 'GET', path: '/api/reviews', framing: 'Content-Length: 5\r\n', status: 400, reason: 'body-not-allowed' },
      { method: 'GET', path: '/api/reviews', framing: 'Transfer-Encoding: chunked\r\n', status: 400, reason: 'body-not-allowed' },
      { method: 'HEAD', path: '/api/reviews', framing: 'Content-Length: 5\r\n', status: 400 },
      { method: 'DELETE', path: '/api/reviews/1', framing: 'Content-Length: 5\r\n', status: 400, reason: 'body-not-allowed' },
      { method: 'DELETE', path: '/mcp', framing: 'Content-Length: 5\r\nMcp-Session-Id: s1\r\n', status: 400, reason: 'body-not-allowed' },
      // Content-Length: 0 is no body.
      { method: 'GET', path: '/api/reviews', framing: 'Content-Length: 0\r\n', status: 200 },
    ];
    for (const c of cases) {
      const conn = await RawConnection.open(env.gw.url);
      const body = c.framing.startsWith('Transfer') ? '5\r\nhello\r\n0\r\n\r\n' : c.framing.includes(': 0') ? '' : 'hello';
      conn.write(head(c.method, c.path, c.framing) + body);
      assert.ok(await conn.until(() => conn.finalStatus !== 0 && conn.text.includes('\r\n\r\n'), 2_000), `${c.method} ${c.path}: answered`);
      await conn.until(() => false, 50);
      assert.equal(conn.finalStatus, c.status, `${c.method} ${c.path} ${c.framing.trim()}: ${conn.text.slice(0, 300)}`);
      if (c.reason !== undefined) {
        assert.match(conn.body, new RegExp(c.reason));
        const record = await auditRecordOf(env.gw, conn.header('x-request-id') ?? '');
        assert.equal(record.reason, c.reason);
        assert.equal(record.status, 400);
      }
      conn.close();
    }
    assert.equal(env.backend.seen.length, seen + 1, 'only the GET without a body reached the backend');

    const allowed = await RawConnection.open(env.gw.url);
    allowed.write(head('DELETE', '/search/index', 'Content-Type: application/json\r\nContent-Length: 13\r\n') + '{"query":"x"}');
    assert.ok(await allowed.until(() => allowed.finalStatus !== 0, 2_000));
    assert.equal(allowed.finalStatus, 200, allowed.text.slice(0, 300));
    allowed.close();
    const forwarded = env.backend.seen.at(-1)!;
    assert.equal(forwarded.method, 'DELETE');
    assert.equal(forwarded.body.toString(), '{"query":"x"}', 'the route that allows it forwards the body');
  });

  it('Expect: 100-continue with a body past the bound gets 413 and never 100 Continue, on both doors', async () => {
    for (const [path, extra] of [
      ['/api/upload', 'Content-Type: application/octet-stream\r\n'],
      ['/mcp', 'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n'],
    ] as const) {
      const conn = await RawConnection.open(env.gw.url);
      conn.write(head('POST', path, `${extra}Expect: 100-continue\r\nContent-Length: 52428800\r\n`));
      assert.ok(await conn.until(() => conn.finalStatus !== 0, 2_000), `${path}: answered`);
      await conn.untilClosed(1_000);
      assert.equal(conn.finalStatus, 413, `${path}: ${conn.text.slice(0, 300)}`);
      assert.ok(!conn.text.includes(' 100 '), `${path}: 100 Continue was sent: ${conn.text.slice(0, 100)}`);
      assert.ok(conn.closed, `${path}: the connection is closed (the announced body is never read)`);
      const record = await auditRecordOf(env.gw, conn.header('x-request-id') ?? '');
      assert.equal(record.reason, 'body-too-large');
      assert.equal(record.status, 413);
    }
  });

  it('Expect: 100-continue without a valid token gets 401 and never 100 Continue', async () => {
    const conn = await RawConnection.open(env.gw.url);
    conn.write('POST /api/upload HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    assert.ok(await conn.until(() => conn.finalStatus !== 0, 2_000));
    assert.equal(conn.finalStatus, 401);
    assert.ok(!conn.text.includes(' 100 '), '100 Continue was sent to an unauthenticated client');
    assert.equal(conn.header('connection'), 'close');
    conn.close();
  });

  it('Expect: 100-continue within the bound gets 100 Continue, then the request is served, on both doors', async () => {
    const seen = env.backend.seen.length;
    for (const [path, extra, body] of [
      ['/api/upload', 'Content-Type: application/json\r\n', '{"n":1}'],
      ['/mcp', 'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n', INITIALIZE],
    ] as const) {
      const conn = await RawConnection.open(env.gw.url);
      conn.write(head('POST', path, `${extra}Expect: 100-continue\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`));
      assert.ok(await conn.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n'), 2_000), `${path}: 100 Continue first: ${conn.text.slice(0, 200)}`);
      conn.write(body);
      assert.ok(await conn.until(() => conn.finalStatus !== 0 && conn.body.length > 0, 2_000), `${path}: answered`);
      assert.equal(conn.finalStatus, 200, `${path}: ${conn.text.slice(0, 300)}`);
      conn.close();
    }
    assert.equal(env.backend.seen.length, seen + 1);
    assert.equal(env.backend.seen.at(-1)!.body.toString(), '{"n":1}');
  });
});

describe('connection caps (3 per address, 5 in all)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ maxConnections: 5, maxConnectionsPerAddress: 3 });
  });
  after(() => stopEnv(env));

  /** The metrics as `/metrics` serves them, read in process (a scrape over HTTP would hold a connection). */
  const scrape = async (): Promise<string> => {
    const metrics = env.gw.gateway.metrics;
    for (const update of metrics.beforeScrape) update();
    return metrics.registry.metrics();
  };
  const refusedCount = async (reason: string): Promise<number> => {
    const text = await scrape();
    return Number(new RegExp(`^behalf_connections_refused_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };
  const refusals = async (reason: string): Promise<StoredAuditRecord[]> => (await env.gw.auditRecords()).filter((r) => r.reason === reason);
  const waitFor = async (what: string, test: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      if (await test()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`${what} did not happen within 2 s`);
  };

  it('past the per-address and total caps, connections are closed on accept, counted, and audited once plus a summary', async () => {
    const held: RawConnection[] = [];
    const opened: RawConnection[] = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await RawConnection.open(env.gw.url, '127.0.0.1'));
      // A fourth from the same address: over the per-address bound, then many more (a flood).
      for (let i = 0; i < 12; i++) opened.push(await RawConnection.open(env.gw.url, '127.0.0.1'));
      for (const conn of opened) assert.ok(await conn.untilClosed(1_000), 'a connection over the per-address bound is closed');
      assert.ok(opened.every((c) => c.text === ''), 'nothing is answered on a refused connection');
      // Two more clients (other loopback addresses) fill the listener to 5; a sixth is refused.
      held.push(await RawConnection.open(env.gw.url, '127.0.0.2'), await RawConnection.open(env.gw.url, '127.0.0.2'));
      const sixth = await RawConnection.open(env.gw.url, '127.0.0.3');
      opened.push(sixth);
      assert.ok(await sixth.untilClosed(1_000), 'a connection over the total cap is closed');
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(held.every((c) => !c.closed), 'the connections within the caps stay open');

      assert.equal(await refusedCount('connection-limit-per-address'), 12);
      assert.equal(await refusedCount('connection-limit'), 1);
      const gauge = /^behalf_connections_open (\d+)/m.exec(await scrape())?.[1];
      assert.equal(gauge, '5');

      // The first refusal of each reason is recorded at once, with the address.
      await waitFor('the first refusal of each reason is audited', async () => (await refusals('connection-limit-per-address')).length === 1 && (await refusals('connection-limit')).length === 1);
      const first = (await refusals('connection-limit-per-address'))[0]!;
      assert.equal(first.status, 0, 'no HTTP status was sent');
      assert.match(first.detail ?? '', /127\.0\.0\.1/);
      assert.match((await refusals('connection-limit'))[0]!.detail ?? '', /127\.0\.0\.3/);

      // Once the listener has room, the same client address is served again.
      held.pop()!.close();
      held.pop()!.close();
      await waitFor('a freed slot', async () => /^behalf_connections_open 3$/m.test(await scrape()));
      const again = await RawConnection.open(env.gw.url, '127.0.0.3');
      again.write(`GET /api/reviews HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${env.token}\r\n\r\n`);
      assert.ok(await again.until(() => again.finalStatus !== 0, 2_000));
      assert.equal(again.finalStatus, 200);
      again.close();
    } finally {
      for (const c of [...held, ...opened]) c.close();
    }
    // The rest of the flood is one summary record per reason (written at the end of its window,
    // here at shutdown), not one record per connection.
    await env.gw.gateway.close();
    const perAddress = await refusals('connection-limit-per-address');
    assert.equal(perAddress.length, 2, `a flood of 12 refusals is 2 records: ${perAddress.map((r) => r.detail).join(' | ')}`);
    assert.match(perAddress[1]!.detail ?? '', /^11 connection\(s\) refused in \d+ ms: 127\.0\.0\.1 x11$/);
    assert.equal((await refusals('connection-limit')).length, 1, 'a single refusal has no summary');
  });
});

describe('timeouts: what the config accepts', () => {
  it('refuses a header timeout longer than the request timeout (Node would throw at start)', async () => {
    const { validateConfig } = await import('../../src/config/load.js');
    const result = validateConfig({
      server: { publicUrl: 'http://gw.test', headersTimeoutMs: 5_000, requestTimeoutMs: 2_000 },
      issuers: [{ id: 'i', issuer: 'https://i.test', audience: 'http://gw.test' }],
    });
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.problems.some((p) => p.path === 'server.headersTimeoutMs'), JSON.stringify(!result.ok && result.problems));
  });
});


