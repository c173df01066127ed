/**
 * "Whose reviews did Alice read?": a real gateway (both doors: an HTTP route, a config tool and
 * an upstream MCP server's tool) writes its trail to the embedded store, and `behalf audit query`
 * answers from it with the new filters.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from '../e2e/harness.js';
import { startFeatureUpstream, type FeatureUpstream } from '../mcp/upstreams/feature-server.js';
import { runAuditCli } from './helpers.js';

const digestOf = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex').slice(0, 16)}`;

let backend: RecordingBackend;
let upstream: FeatureUpstream;
let idp: DevIdp;
let gw: TestGateway;
let client: Client;
let transport: StreamableHTTPClientTransport;
let config: string;
let httpRequestId: string;
let records: StoredAuditRecord[];

before(async () => {
  backend = await startRecordingBackend();
  upstream = await startFeatureUpstream();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@acme.test' }], audience: publicUrl, log: () => undefined });
  gw = await startTestGateway({
    server: { host: '127.0.0.1', port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl, jwksUri: idp.jwksUri, tenant: 'acme' }],
    routes: [{ id: 'reviews', path: '/api/reviews', upstream: `${backend.url}/reviews` }],
    tools: [
      {
        name: 'get_review',
        inputSchema: { type: 'object', properties: { employee: { type: 'string' } }, required: ['employee'] },
        annotations: { readOnlyHint: true },
        call: { route: 'reviews', method: 'GET', path: '/{employee}' },
      },
    ],
    upstreams: [{ id: 'hr-mcp', namespace: 'hr', url: upstream.url, pinning: 'off' }],
    policies: [{ id: 'anyone', effect: 'allow' }],
    clients: [{ id: 'chatgpt-connector', name: 'ChatGPT' }],
  });
  config = join(gw.dir, 'cli.yaml');
  await writeFile(
    config,
    [
      `server: { publicUrl: "${publicUrl}" }`,
      'issuers: [{ id: idp, issuer: "https://idp.example", audience: gw }]',
      `audit: { store: "${join(gw.dir, 'audit')}" }`,
      'clients: [{ id: chatgpt-connector, name: ChatGPT }]',
      '',
    ].join('\n'),
  );

  const token = await idp.mint('alice', { client: 'chatgpt-connector', audience: `${publicUrl}/mcp` });
  client = new Client({ name: 'trail-questions', version: '1.0.0' });
  transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  const deadline = Date.now() + 10_000;
  while (!(await client.listTools()).tools.some((t) => t.name === 'hr.chatty')) {
    if (Date.now() > deadline) throw new Error('hr.chatty was not listed within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const employee of ['bob', 'carol']) {
    const result = await client.callTool({ name: 'get_review', arguments: { employee } });
    assert.notEqual(result.isError, true, JSON.stringify(result));
  }
  const chatty = await client.callTool({ name: 'hr.chatty', arguments: { employee: 'dave', api_key: 'k-123', filter: { team: 'x' } } });
  assert.notEqual(chatty.isError, true, JSON.stringify(chatty));

  const agentToken = await idp.mint('alice', { client: 'custom-agent' });
  const res = await fetch(`${gw.url}/api/reviews/erin?employee=erin&api_key=zzz`, { headers: { authorization: `Bearer ${agentToken}` } });
  assert.equal(res.status, 200);
  httpRequestId = res.headers.get('x-request-id') ?? '';
  await res.arrayBuffer();
  records = await gw.auditRecords();
});

after(async () => {
  await client?.close().catch(() => undefined);
  await gw?.close();
  await idp?.close();
  await upstream?.stop();
  await backend?.close();
});

describe('what the records keep', () => {
  it('a config tool call keeps its scalar arguments, the argument digest, the session digest and both times', () => {
    const calls = records.filter((r) => r.tool === 'get_review');
    assert.deepEqual(calls.map((r) => r.args), [{ employee: 'bob' }, { employee: 'carol' }]);
    for (const r of calls) {
      assert.match(r.argsDigest ?? '', /^sha256:/);
      assert.equal(r.session, digestOf(transport.sessionId!));
      assert.ok(r.endTime !== undefined && r.endTime >= r.time, `${r.time} .. ${r.endTime}`);
    }
    // Every request of the session carries the same value, its initialize included.
    const initialize = records.find((r) => r.rpcMethod === 'initialize');
    assert.equal(initialize?.session, digestOf(transport.sessionId!));
    assert.ok(!JSON.stringify(records).includes(transport.sessionId!), 'the session id itself is not in the trail');
  });

  it('an upstream tool call digests a credential and names the object it left out, in its intent and its outcome', () => {
    const chatty = records.filter((r) => r.tool === 'hr.chatty');
    assert.deepEqual(chatty.map((r) => r.phase), ['intent', 'outcome']);
    for (const r of chatty) {
      assert.deepEqual(r.args, { employee: 'dave', api_key: digestOf('k-123') });
      assert.deepEqual(r.omitted, ['filter']);
      assert.equal(r.upstream, 'hr-mcp');
    }
    assert.ok(!JSON.stringify(records).includes('k-123'));
  });

  it('a route request keeps its query values (credentials digested) while the path keeps names only', () => {
    const r = records.find((x) => x.requestId === httpRequestId);
    assert.deepEqual(r?.query, { employee: 'erin', api_key: digestOf('zzz') });
    assert.equal(r?.path, '/api/reviews/erin?employee=&api_key=');
    assert.equal(r?.session, undefined);
  });
});

describe('behalf audit query answers from the trail', () => {
  const lines = async (...args: string[]): Promise<string[]> => {
    const r = await runAuditCli(['audit', 'query', '--config', config, ...args]);
    assert.equal(r.code, 0, r.err);
    return r.out.slice(1);
  };

  it('"whose reviews did Alice read": one command printing the method, the tool and the employee, with the client by name', async () => {
    const out = await lines('--user', 'alice', '--tool', 'get_review', '--since', '1h');
    assert.equal(out.length, 2);
    assert.match(out[0]!, /alice\s+ChatGPT\s+tools\/call get_review employee=bob\s+allow/);
    assert.match(out[1]!, /tools\/call get_review employee=carol/);
  });

  it('--arg matches a kept value, and a digested credential by the value whose digest it is', async () => {
    assert.equal((await lines('--arg', 'employee=bob')).length, 1);
    assert.equal((await lines('--arg', 'employee=nobody')).length, 0);
    const byKey = await lines('--tool', 'hr.chatty', '--arg', 'api_key=k-123');
    assert.equal(byKey.length, 2);
    assert.match(byKey[0]!, /tools\/call hr\.chatty api_key=sha256:[0-9a-f]{16} employee=dave\s+allow.*\sintent\s/);
    assert.match(byKey[1]!, /tools\/call hr\.chatty api_key=sha256:[0-9a-f]{16} employee=dave\s+allow.*\s200\s/);
    assert.equal((await lines('--arg', 'employee=erin', '--arg', 'api_key=zzz')).length, 1);
  });

  it('--session (the id or its digest), --door, --upstream, --client (id or name) and --request-id', async () => {
    const inSession = records.filter((r) => r.session === digestOf(transport.sessionId!)).length;
    assert.ok(inSession >= 4, `records of the session: ${inSession}`);
    assert.equal((await lines('--session', transport.sessionId!)).length, inSession);
    assert.equal((await lines('--session', digestOf(transport.sessionId!))).length, inSession);
    const http = await lines('--door', 'http');
    assert.equal(http.length, 1);
    assert.match(http[0]!, /custom-agent\s+GET \/api\/reviews\/erin api_key=sha256:[0-9a-f]{16} employee=erin/);
    assert.equal((await lines('--upstream', 'hr-mcp', '--tool', 'hr.chatty')).length, 2);
    assert.equal((await lines('--client', 'ChatGPT')).length, records.filter((r) => r.client === 'chatgpt-connector').length);
    assert.equal((await lines('--client', 'chatgpt-connector', '--tool', 'get_review')).length, 2);
    const byId = await runAuditCli(['audit', 'query', '--config', config, '--request-id', httpRequestId, '--json']);
    assert.deepEqual(byId.out.map((l) => (JSON.parse(l) as StoredAuditRecord).requestId), [httpRequestId]);
  });

  it('a malformed --arg is a usage error', async () => {
    const r = await runAuditCli(['audit', 'query', '--config', config, '--arg', 'employee']);
    assert.equal(r.code, 2);
    assert.match(r.err, /name=value/);
  });
});
