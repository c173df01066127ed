/**
 * Human approval end to end (docs/approvals.md): a rule holds what it allows until a person
 * approves that exact request. On the HTTP door and the MCP door (the SDK client), through the
 * admin API and `behalf approvals`: single use, expiry, a changed argument, self-approval, the
 * admin token, denial, a webhook, and the audit trail of every step.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DEMO_USERS, freePort } from '../../examples/hr-demo/launch.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { runCli } from '../cli/helpers.js';
import { adminClient, keysUnder, REDIS_URL, testPrefix } from '../limit/redis-env.js';
import { startTcpProxy, type TcpProxy } from '../limit/tcp-proxy.js';
import { manualClock, type ManualClock } from './e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from './harness.js';

const ADMIN_TOKEN = 'test-admin-token-approvals-0123456789abcdef';
const DIRECTORY = `users:
  - { id: dana, department: Platform, title: Director }
  - { id: alice, manager: dana, department: Platform }
  - { id: bob, manager: alice, department: Platform }
  - { id: carol, manager: alice, department: Platform }
  - { id: erin, department: People }
  - { id: mallory, department: Finance }
`;
// The demo users (Dana manages Alice), and Erin of HR.
const USERS = [...DEMO_USERS, { id: 'erin', name: 'Erin Evans', email: 'erin@example.test', roles: ['hr-admin'], groups: ['people'] }];
const APPROVAL = { approvers: { manager: true, roles: ['hr-admin'] }, reason: 'a review needs a second pair of eyes', timeoutSeconds: 120, validSeconds: 60 };

interface Env {
  gw: TestGateway;
  idp: DevIdp;
  backend: RecordingBackend;
  clock: ManualClock;
  admin: string;
  hooks: unknown[];
  close(): Promise<void>;
}

async function startEnv(): Promise<Env> {
  const clock = manualClock();
  const port = await freePort();
  const adminPort = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = await startDevIdp({ users: USERS, audience: [publicUrl, `${publicUrl}/mcp`], defaultScopes: ['reviews:read', 'reviews:write'], log: () => undefined, now: clock.now });
  const backend = await startRecordingBackend();
  const hooks: unknown[] = [];
  const hookServer: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push({ auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  const hookPort = (hookServer.address() as { port: number }).port;
  const dir = await mkdtemp(join(tmpdir(), 'behalf-approvals-'));
  await writeFile(join(dir, 'directory.yaml'), DIRECTORY);
  const cleanUp = async () => {
    await idp.close();
    await backend.close();
    hookServer.closeAllConnections();
    await new Promise<void>((r) => hookServer.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  };
  const gw = await startTestGateway(
    {
      server: { port, publicUrl },
      issuers: [{ id: 'dev', issuer: idp.issuer, audience: [publicUrl, `${publicUrl}/mcp`], jwksUri: idp.jwksUri, claims: { preset: 'generic' } }],
      directory: { file: join(dir, 'directory.yaml') },
      routes: [{ id: 'reviews', path: '/api/reviews', methods: ['GET', 'POST'], upstream: `${backend.url}/reviews`, allowBodyOn: [] }],
      mcp: {},
      tools: [
        {
          name: 'add_review',
          description: 'Add a performance review for someone who reports to you.',
          inputSchema: { type: 'object', properties: { employee: { type: 'string' }, rating: { type: 'string' } }, required: ['employee', 'rating'], additionalProperties: false },
          call: { route: 'reviews', method: 'POST', path: '/{employee}', body: { rating: '{rating}' } },
        },
        {
          name: 'promote',
          description: 'Promote someone (needs the manager only).',
          inputSchema: { type: 'object', properties: { employee: { type: 'string' } }, required: ['employee'], additionalProperties: false },
          call: { route: 'reviews', method: 'POST', path: '/{employee}/promotion' },
        },
      ],
      policies: [
        { id: 'add-review-http', effect: 'allow', match: { routes: ['reviews'], methods: ['POST'], paths: ['/api/reviews/:employee'] }, when: 'request.params.employee in user.reports', approval: APPROVAL },
        { id: 'add-review-tool', effect: 'allow', match: { tools: ['add_review'] }, when: 'body.employee in user.reports', approval: APPROVAL },
        { id: 'promote-tool', effect: 'allow', match: { tools: ['promote'] }, when: 'body.employee in user.reports', approval: { approvers: { manager: true } } },
        { id: 'read', effect: 'allow', match: { routes: ['reviews'], methods: ['GET'] } },
      ],
      approvals: { url: 'https://behalf-admin.example.test/approvals/{id}', webhook: { url: `http://127.0.0.1:${hookPort}/hook`, headers: { authorization: 'Bearer hook-secret' } } },
      admin: { port: adminPort, token: ADMIN_TOKEN },
    },
    { now: clock.now },
  ).catch(async (err: unknown) => {
    // Nothing left listening: a failed start must fail the test, not hang the run.
    await cleanUp();
    throw err;
  });
  return {
    gw,
    idp,
    backend,
    clock,
    admin: `http://127.0.0.1:${adminPort}`,
    hooks,
    async close() {
      await gw.close();
      await cleanUp();
    },
  };
}

/** What a stateless (2026-07-28) `tools/call` result may hold. */
type StatelessResult = Record<string, unknown> & {
  resultType: string;
  isError?: boolean;
  content: { text: string }[];
  inputRequests?: Record<string, { method: string; params: { mode: string; elicitationId: string; url: string; message: string } }>;
};

/** A `tools/call` in the stateless 2026-07-28 form (no session), with these client capabilities; its result. */
async function statelessToolCall(gateway: string, token: string, tool: string, args: Record<string, unknown>, capabilities: Record<string, unknown>, inputResponses?: Record<string, unknown>): Promise<StatelessResult> {
  const res = await fetch(`${gateway}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': tool,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: {
        name: tool,
        arguments: args,
        ...(inputResponses === undefined ? {} : { inputResponses }),
        _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': capabilities, 'io.modelcontextprotocol/clientInfo': { name: 'stateless-test', version: '1' } },
      },
    }),
  });
  assert.equal(res.status, 200);
  const text = await res.text();
  const messages = (res.headers.get('content-type') ?? '').startsWith('text/event-stream')
    ? text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>)
    : [JSON.parse(text) as Record<string, unknown>];
  const answer = messages.find((m) => m['id'] === 7);
  assert.ok(answer, text.slice(0, 300));
  return answer['result'] as StatelessResult;
}

describe('human approval', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => env.close());

  const token = (user: string) => env.idp.mint(user);
  const post = async (user: string, employee: string, body: unknown, approval?: string) =>
    fetch(`${env.gw.url}/api/reviews/${employee}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token(user)}`, 'content-type': 'application/json', ...(approval === undefined ? {} : { 'behalf-approval': approval }) },
      body: JSON.stringify(body),
    });
  const admin = async (as: string | 'admin', method: string, path: string, body?: unknown) =>
    fetch(`${env.admin}/admin/approvals${path}`, {
      method,
      headers: { authorization: `Bearer ${as === 'admin' ? ADMIN_TOKEN : await token(as)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const requiredId = async (res: Response): Promise<string> => {
    assert.equal(res.status, 403);
    const json = (await res.json()) as { error: string; message: string; approval: { id: string; expiresAt: string; url: string } };
    assert.equal(json.error, 'approval-required', json.message);
    assert.equal(res.headers.get('behalf-approval'), json.approval.id);
    assert.equal(json.approval.url, `https://behalf-admin.example.test/approvals/${json.approval.id}`);
    assert.match(json.message, /a review needs a second pair of eyes/);
    assert.match(json.message, /waiting for dana, role hr-admin/);
    return json.approval.id;
  };

  test('HTTP: held until the manager approves, then the same request goes through once; nobody approves their own; the admin token cannot approve', async () => {
    const review = { rating: 'meets', summary: 'steady' };
    const seen = env.backend.seen.length;
    const id = await requiredId(await post('alice', 'bob', review));
    assert.equal(await requiredId(await post('alice', 'bob', review)), id, 'a retried request does not ask twice');
    assert.equal(env.backend.seen.length, seen, 'nothing reached the backend');

    assert.equal((await admin('alice', 'POST', `/${id}/approve`)).status, 403, 'the requester cannot approve');
    assert.match(((await (await admin('alice', 'POST', `/${id}/approve`)).json()) as { message: string }).message, /nobody approves their own request/);
    assert.equal((await admin('bob', 'POST', `/${id}/approve`)).status, 403, 'the subject of the review is no approver');
    assert.equal((await admin('admin', 'POST', `/${id}/approve`)).status, 403, 'the admin token is not a person');
    assert.equal((await admin('bob', 'GET', `/${id}`)).status, 403, 'nor may he read it');

    const listed = (await (await admin('dana', 'GET', '?state=pending')).json()) as { approvals: { id: string; arguments: string; mayDecide: boolean; user: string }[] };
    const mine = listed.approvals.find((a) => a.id === id);
    assert.ok(mine, 'dana sees the request she may decide');
    assert.equal(mine.mayDecide, true);
    assert.equal(mine.arguments, '{"rating":"meets","summary":"steady"}', 'the approver sees the exact body');
    const approved = await admin('dana', 'POST', `/${id}/approve`, { note: 'ok for H2' });
    assert.equal(approved.status, 200);
    assert.equal((await admin('erin', 'POST', `/${id}/deny`)).status, 409, 'decided once');

    const through = await post('alice', 'bob', review, id);
    assert.equal(through.status, 200);
    assert.equal(env.backend.seen.length, seen + 1);
    const forwarded = env.backend.seen.at(-1)!;
    assert.equal(forwarded.headers['behalf-approval'], undefined, 'the approval header is for the gateway only');
    assert.equal(forwarded.body.toString(), JSON.stringify(review));

    const again = await post('alice', 'bob', review, id);
    assert.equal(again.status, 403);
    assert.equal(((await again.json()) as { error: string }).error, 'approval-invalid', 'single use');
    assert.notEqual(await requiredId(await post('alice', 'bob', review)), id, 'the same request again needs a new approval');

    const records = await env.gw.auditRecords();
    const asked = records.find((r) => r.reason === 'approval-required' && r.detail === `approval ${id} requested`);
    assert.equal(asked?.user, 'alice');
    assert.equal(asked?.ruleId, 'add-review-http');
    const granted = records.find((r) => r.reason === 'approval-granted');
    assert.equal(granted?.door, 'admin');
    assert.equal(granted?.user, 'dana');
    assert.match(granted?.detail ?? '', new RegExp(`approval ${id} approved by dana: POST /api/reviews/bob for alice .*note: ok for H2`));
    const used = records.find((r) => r.decision === 'allow' && r.path === '/api/reviews/bob' && r.status === 200);
    assert.match(used?.detail ?? '', new RegExp(`^approval ${id} granted by dana`));
    assert.ok(records.some((r) => r.door === 'admin' && r.status === 403 && r.user === 'alice'), 'the refused self-approval is audited');
  });

  test('HTTP: an approval is bound to the exact request: a changed body or another employee needs its own', async () => {
    const id = await requiredId(await post('alice', 'carol', { rating: 'meets' }));
    assert.equal((await admin('erin', 'POST', `/${id}/approve`)).status, 200, 'a role named by the rule may approve');
    const changed = await post('alice', 'carol', { rating: 'exceeds' }, id);
    assert.equal(changed.status, 403);
    assert.equal(((await changed.json()) as { error: string }).error, 'approval-invalid');
    const otherId = await requiredId(await post('alice', 'carol', { rating: 'exceeds' }));
    assert.notEqual(otherId, id, 'the changed request asks anew');
    assert.equal((await post('alice', 'carol', { rating: 'meets' }, id)).status, 200, 'the approved one still works');
    const malformed = await post('alice', 'carol', { rating: 'meets' }, `${id}, ${id}`);
    assert.equal(malformed.status, 400);

    // A query binds too; its values reach the approver with the body, never the chat message or an audit detail.
    const withQuery = await fetch(`${env.gw.url}/api/reviews/carol?period=secret-h2`, { method: 'POST', headers: { authorization: `Bearer ${await token('alice')}`, 'content-type': 'application/json' }, body: '{"rating":"meets"}' });
    const queryId = await requiredId(withQuery);
    assert.notEqual(queryId, otherId);
    const shown = ((await (await admin('dana', 'GET', `/${queryId}`)).json()) as { approval: { target: string; arguments: string } }).approval;
    assert.equal(shown.target, 'POST /api/reviews/carol?period=');
    assert.equal(shown.arguments, '{"body":{"rating":"meets"},"query":"?period=secret-h2"}');
    assert.equal((await admin('dana', 'POST', `/${queryId}/approve`)).status, 200);
    const granted = (await env.gw.auditRecords()).find((r) => r.reason === 'approval-granted' && (r.detail ?? '').includes(queryId));
    assert.match(granted?.detail ?? '', /POST \/api\/reviews\/carol\?period= for alice/);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(env.hooks.some((h) => JSON.stringify(h).includes(queryId)), 'the webhook was told');
    assert.ok(!JSON.stringify(env.hooks).includes('secret-h2'), 'the query value stays out of chat');
    // (The record's own `query` field keeps values as `audit.query` says; the approval's detail does not add them.)
    assert.ok((await env.gw.auditRecords()).every((r) => !(r.detail ?? '').includes('secret-h2')), 'and out of audit details');
  });

  test('HTTP: a refusal stands for the request until its deadline; a late decision is refused; an unused approval expires', async () => {
    const id = await requiredId(await post('alice', 'bob', { rating: 'below' }));
    assert.equal((await admin('admin', 'POST', `/${id}/deny`, { note: 'talk to HR first' })).status, 200, 'the admin token may deny');
    const refused = await post('alice', 'bob', { rating: 'below' });
    assert.equal(refused.status, 403);
    const json = (await refused.json()) as { error: string; message: string };
    assert.equal(json.error, 'approval-denied');
    assert.match(json.message, /talk to HR first/);

    const late = await requiredId(await post('alice', 'carol', { rating: 'below' }));
    env.clock.advance(121_000);
    const tooLate = await admin('dana', 'POST', `/${late}/approve`);
    assert.equal(tooLate.status, 409);
    assert.notEqual(await requiredId(await post('alice', 'carol', { rating: 'below' })), late, 'past its deadline the request asks anew');

    const unused = await requiredId(await post('alice', 'bob', { rating: 'meets', summary: 'late' }));
    assert.equal((await admin('dana', 'POST', `/${unused}/approve`)).status, 200);
    env.clock.advance(61_000);
    const expired = await post('alice', 'bob', { rating: 'meets', summary: 'late' }, unused);
    assert.equal(expired.status, 403);
    assert.equal(((await expired.json()) as { error: string }).error, 'approval-invalid');
  });

  test('MCP: the SDK client gets an isError result naming the approval; approved with `behalf approvals`, the same call succeeds once', async () => {
    const mcp = async (user: string) => {
      const transport = new StreamableHTTPClientTransport(new URL(`${env.gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${await env.idp.mint(user, { audience: `${env.gw.url}/mcp` })}` } } });
      const client = new Client({ name: 'approvals-test', version: '1.0.0' });
      await client.connect(transport);
      return client;
    };
    const alice = await mcp('alice');
    try {
      const args = { employee: 'bob', rating: 'exceeds' };
      const first = (await alice.callTool({ name: 'add_review', arguments: args })) as { isError?: boolean; content: { text: string }[] };
      assert.equal(first.isError, true);
      const text = first.content[0]!.text;
      assert.match(text, /approval-required/);
      const id = /Approval ([A-Za-z0-9_-]{22}) is waiting/.exec(text)?.[1];
      assert.ok(id, text);

      const cli = (user: string, args2: string[]) => env.idp.mint(user).then((t) => runCli(['approvals', ...args2], { BEHALF_TOKEN: t, BEHALF_ADMIN_URL: env.admin }));
      const shown = await cli('dana', ['show', id]);
      assert.equal(shown.code, 0, shown.err);
      assert.match(shown.out, /alice via behalf-dev-cli: tool add_review/);
      assert.match(shown.out, /arguments: \{"employee":"bob","rating":"exceeds"\}/);
      const listed = await cli('dana', ['list', '--state', 'pending']);
      assert.match(listed.out, new RegExp(`${id}  pending .*\\[you may decide\\]`));
      const self = await cli('alice', ['approve', id]);
      assert.equal(self.code, 1);
      assert.match(self.err, /nobody approves their own request/);
      const ok = await cli('dana', ['approve', id, '--note', 'fine']);
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.out, new RegExp(`^approved ${id}: alice may tool add_review once`));

      const seen = env.backend.seen.length;
      const second = (await alice.callTool({ name: 'add_review', arguments: args })) as { isError?: boolean };
      assert.notEqual(second.isError, true);
      assert.equal(env.backend.seen.length, seen + 1);
      assert.equal(JSON.parse(env.backend.seen.at(-1)!.body.toString()).rating, 'exceeds');
      const third = (await alice.callTool({ name: 'add_review', arguments: args })) as { isError?: boolean; content: { text: string }[] };
      assert.equal(third.isError, true, 'used once');
      assert.doesNotMatch(third.content[0]!.text, new RegExp(id), 'a new approval is asked for');

      const nobody = (await (await mcp('dana')).callTool({ name: 'promote', arguments: { employee: 'alice' } })) as { isError?: boolean; content: { text: string }[] };
      assert.equal(nobody.isError, true);
      assert.match(nobody.content[0]!.text, /approver-missing/, 'dana has no manager, and the rule names nobody else');
    } finally {
      await alice.close();
    }
  });

  test('MCP, a 2025-11-25 client that takes URL-mode elicitation: the call fails with URLElicitationRequiredError naming the approval page', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${env.gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${await env.idp.mint('alice', { audience: `${env.gw.url}/mcp` })}` } } });
    const client = new Client({ name: 'url-elicitation-test', version: '1.0.0' }, { capabilities: { elicitation: { url: {} } } });
    await client.connect(transport);
    try {
      assert.equal(transport.protocolVersion, '2025-11-25');
      const args = { employee: 'bob', rating: 'below' };
      const err = await client.callTool({ name: 'add_review', arguments: args }).then(
        () => assert.fail('the call went through without an approval'),
        (e: unknown) => e as { code: number; elicitations?: { mode: string; elicitationId: string; url: string; message: string }[] },
      );
      assert.equal(err.code, -32042);
      const [page] = err.elicitations ?? [];
      assert.equal(page?.mode, 'url');
      assert.equal(page?.url, `https://behalf-admin.example.test/approvals/${page?.elicitationId}`);
      assert.match(page?.message ?? '', /waiting for dana, role hr-admin/);
      assert.equal((await admin('dana', 'POST', `/${page!.elicitationId}/approve`)).status, 200);
      const done = (await client.callTool({ name: 'add_review', arguments: args })) as { isError?: boolean };
      assert.notEqual(done.isError, true, 'the same call goes through once approved');
    } finally {
      await client.close();
    }
  });

  test('MCP, the stateless 2026-07-28 revision: the same isError result, and the same call succeeds once approved', async () => {
    const mcpToken = await env.idp.mint('alice', { audience: `${env.gw.url}/mcp` });
    const args = { employee: 'carol', rating: 'exceeds' };
    const call = () => statelessToolCall(env.gw.url, mcpToken, 'add_review', args, {});
    const first = await call();
    assert.equal(first.isError, true);
    const id = /Approval ([A-Za-z0-9_-]{22}) is waiting/.exec(first.content[0]!.text)?.[1];
    assert.ok(id, first.content[0]!.text);
    assert.equal((await admin('dana', 'POST', `/${id}/approve`)).status, 200);
    const seen = env.backend.seen.length;
    const second = await call();
    assert.notEqual(second.isError, true, second.content[0]?.text);
    assert.equal(env.backend.seen.length, seen + 1);
  });

  test('MCP, a 2026-07-28 client that takes URL-mode elicitation: an InputRequiredResult naming the approval page; the retried call goes through once approved, and a declined page gets the isError result', async () => {
    const mcpToken = await env.idp.mint('alice', { audience: `${env.gw.url}/mcp` });
    const call = (args: Record<string, unknown>, inputResponses?: Record<string, unknown>) => statelessToolCall(env.gw.url, mcpToken, 'add_review', args, { elicitation: { url: {} } }, inputResponses);
    const args = { employee: 'carol', rating: 'meets' };
    const first = await call(args);
    assert.equal(first.resultType, 'input_required');
    const [key, request] = Object.entries(first.inputRequests ?? {})[0] ?? [];
    assert.equal(request?.method, 'elicitation/create');
    assert.equal(request?.params.mode, 'url');
    const id = request!.params.elicitationId;
    assert.equal(request?.params.url, `https://behalf-admin.example.test/approvals/${id}`);
    const waiting = await call(args, { [key!]: { action: 'accept' } });
    assert.equal(waiting.resultType, 'input_required', 'opened but not approved yet: the page again');
    assert.equal((await admin('dana', 'POST', `/${id}/approve`)).status, 200);
    const seen = env.backend.seen.length;
    const done = await call(args, { [key!]: { action: 'accept' } });
    assert.equal(done.resultType, 'complete');
    assert.notEqual(done.isError, true);
    assert.equal(env.backend.seen.length, seen + 1);

    const other = { employee: 'carol', rating: 'below' };
    const asked = await call(other);
    const [otherKey] = Object.keys(asked.inputRequests ?? {});
    const declined = await call(other, { [otherKey!]: { action: 'decline' } });
    assert.equal(declined.resultType, 'complete');
    assert.equal(declined.isError, true, 'a declined page is not asked again');
    assert.match(declined.content?.[0]?.text ?? '', /approval-required/);
  });

  test('approvers are told through the webhook (no arguments in the message), and bad admin calls are refused clearly', async () => {
    assert.ok(env.hooks.length >= 3, `webhook calls: ${env.hooks.length}`);
    const first = env.hooks[0] as { auth: string; body: { text: string; behalf: { id: string; user: string; ruleId: string } } };
    assert.equal(first.auth, 'Bearer hook-secret');
    assert.match(first.body.text, /^Approval needed: alice \(via behalf-dev-cli\) asks to POST \/api\/reviews\/bob\./);
    assert.doesNotMatch(first.body.text, /steady|meets/, 'the body stays out of chat');
    assert.equal(first.body.behalf.user, 'alice');
    assert.equal((await fetch(`${env.admin}/admin/approvals`)).status, 401);
    assert.equal((await admin('dana', 'POST', '/nope/approve')).status, 404);
    assert.equal((await admin('dana', 'DELETE', '')).status, 405);
    assert.equal((await admin('dana', 'GET', '?state=weird')).status, 400);
    const id = await requiredId(await post('alice', 'carol', { rating: 'meets', summary: 'x' }));
    assert.equal((await admin('dana', 'POST', `/${id}/approve`, { note: 'x', extra: true })).status, 400);
    const raw = await fetch(`${env.admin}/admin/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${await token('dana')}`, 'content-type': 'application/json' }, body: '{"note":' });
    assert.equal(raw.status, 400);
    assert.equal((await admin('dana', 'GET', `/${id}`)).status, 200);

    // Every event of this file's flows, counted for dashboards.
    const metrics = await (await fetch(`${env.gw.url}/metrics`)).text();
    const count = (event: string) => Number(new RegExp(`^behalf_approval_events_total\\{event="${event}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    assert.ok(count('requested') >= 10, `requested ${count('requested')}`);
    assert.ok(count('approved') >= 6, `approved ${count('approved')}`);
    assert.ok(count('denied') >= 1, `denied ${count('denied')}`);
    assert.ok(count('used') >= 5, `used ${count('used')}`);
  });
});

describe('human approval with a shared store that goes away', () => {
  const prefix = testPrefix();
  let proxy: TcpProxy;
  let gw: TestGateway;
  let idp: DevIdp;
  let backend: RecordingBackend;
  before(async () => {
    proxy = await startTcpProxy(REDIS_URL);
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ users: USERS, audience: publicUrl, defaultScopes: ['reviews:read', 'reviews:write'], log: () => undefined });
    backend = await startRecordingBackend();
    const dir = await mkdtemp(join(tmpdir(), 'behalf-approvals-redis-'));
    await writeFile(join(dir, 'directory.yaml'), DIRECTORY);
    gw = await startTestGateway({
      server: { port, publicUrl },
      issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl, jwksUri: idp.jwksUri, claims: { preset: 'generic' } }],
      directory: { file: join(dir, 'directory.yaml') },
      routes: [{ id: 'reviews', path: '/api/reviews', methods: ['GET', 'POST'], upstream: `${backend.url}/reviews` }],
      policies: [
        { id: 'add-review-http', effect: 'allow', match: { routes: ['reviews'], methods: ['POST'] }, approval: APPROVAL },
        { id: 'read', effect: 'allow', match: { routes: ['reviews'], methods: ['GET'] } },
      ],
      approvals: { store: proxy.url, keyPrefix: prefix },
    });
  });
  after(async () => {
    await gw.close();
    await idp.close();
    await backend.close();
    await proxy.close();
    const redis = await adminClient();
    const keys = await keysUnder(redis, prefix);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  test('requests that need an approval get 503 approval-unavailable (fail closed), others go on; /readyz says so without taking the instance out', async () => {
    const alice = { authorization: `Bearer ${await idp.mint('alice')}`, 'content-type': 'application/json' };
    const post = () => fetch(`${gw.url}/api/reviews/bob`, { method: 'POST', headers: alice, body: '{"rating":"meets"}' });
    // The store connects in the background: until then, 503 like any outage.
    const until = async (ok: (status: number) => boolean) => {
      const deadline = Date.now() + 5_000;
      let res = await post();
      while (!ok(res.status) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        res = await post();
      }
      return res;
    };
    const held = await until((s) => s !== 503);
    assert.equal(held.status, 403, 'with Redis up, the request waits for an approval kept in Redis');
    const first = (await held.json()) as { error: string; approval: { id: string } };
    assert.equal(first.error, 'approval-required');
    assert.equal(((await (await fetch(`${gw.url}/readyz`)).json()) as { checks: Record<string, { ok: boolean; detail?: string }> }).checks['approvals']?.ok, true);

    proxy.cut();
    const refused = await post();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { error: string }).error, 'approval-unavailable');
    assert.equal((await fetch(`${gw.url}/api/reviews/bob`, { headers: alice })).status, 200, 'a read needs no approval');
    const ready = await fetch(`${gw.url}/readyz`);
    const status = (await ready.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
    assert.match(status.checks['approvals']?.detail ?? '', /approval store unreachable/);
    assert.equal(status.checks['approvals']?.ok, true, 'not a reason to leave the load balancer');
    assert.equal(backend.seen.filter((r) => r.method === 'POST').length, 0, 'nothing that needs an approval reached the backend');

    proxy.restore();
    const again = await until((s) => s !== 503);
    assert.equal(again.status, 403, 'back to waiting once Redis answers');
    assert.equal(((await again.json()) as { approval: { id: string } }).approval.id, first.approval.id, 'the same approval: it was kept in Redis');
    const records = await gw.auditRecords();
    assert.ok(records.some((r) => r.reason === 'approval-unavailable' && r.status === 503 && r.user === 'alice'));
  });
});
