import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { close, listen, send } from '../forward/fixtures.js';
import { startRouteGateway, type RouteGateway } from '../forward/route-gateway.js';
import { startDoorEnv, type DoorEnv } from '../mcp/door/harness.js';
import { assertRpcError, messageOf, post, stateless } from '../mcp/door/wire.js';

/**
 * Class 2 of "Request integrity": a JSON object naming a key twice. On the HTTP door
 * `{"employee":"mallory","employee":"bob"}` was decided on the last key (bob, whom Alice may act
 * on) and forwarded raw, so a backend keeping the first key acted on mallory. Through a real
 * gateway on 127.0.0.1, each such body is refused with 400 `json-duplicate-key`, never reaches
 * the backend (an HTTP server, or the MCP door's tool source), and is audited with its reason.
 *
 * This does NOT test the scanner's edge cases (test/lib/json-duplicate-keys.test.ts does), nor
 * bodies whose Content-Type is not JSON (policy does not read those).
 */

const DIRECTORY = `users:
  - { id: alice, name: Alice, email: alice@acme.test, department: Platform }
  - { id: bob, name: Bob, email: bob@acme.test, department: Platform }
  - { id: mallory, name: Mallory, email: mallory@acme.test, department: Finance }
`;

/** The attacks: each decided on bob by `JSON.parse`, each holding mallory where another parser looks. */
const BODIES: readonly (readonly [string, string])[] = [
  ['the key twice', '{"employee":"mallory","employee":"bob"}'],
  ['the key twice, the second escaped', '{"employee":"mallory","\\u0065mployee":"bob"}'],
  ['the key twice in a nested object', '{"target":{"employee":"bob","note":"x","employee":"bob"},"employee":"bob"}'],
  ['the key twice in an object in an array', '{"employee":"bob","also":[{"id":1},{"id":"mallory","id":2}]}'],
];

describe('duplicate JSON keys: HTTP routes', () => {
  let gw: RouteGateway;
  let dir: string;
  const seen: string[] = [];
  const backend = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-duplicate-keys-'));
    await writeFile(join(dir, 'directory.yaml'), DIRECTORY);
    const upstream = await listen(backend);
    gw = await startRouteGateway({
      directory: { file: join(dir, 'directory.yaml') },
      routes: [{ id: 'actions', path: '/api/actions', upstream, methods: ['POST'] }],
      policies: [{ id: 'same-department', effect: 'allow', match: { routes: ['actions'] }, when: 'directory[body.employee].department == user.department' }],
    });
  });
  after(async () => {
    await gw.close();
    await close(backend);
    await rm(dir, { recursive: true, force: true });
  });

  async function postBody(body: string) {
    const before = seen.length;
    const reply = await send(gw.url, { method: 'POST', path: '/api/actions', headers: { ...(await gw.auth()), 'content-type': 'application/json' }, body });
    const record = await gw.recordOf(String(reply.headers['x-request-id']));
    return { reply, record, reached: seen.length > before, text: reply.body.toString('utf8') };
  }

  it('the rule works: bob is allowed, mallory is not', async () => {
    assert.equal((await postBody('{"employee":"bob"}')).reply.status, 200);
    const no = await postBody('{"employee":"mallory"}');
    assert.equal(no.reply.status, 403);
    assert.equal(no.reached, false);
  });

  for (const [what, body] of BODIES) {
    it(`${what} is 400 json-duplicate-key, never forwarded, audited`, async () => {
      const r = await postBody(body);
      assert.equal(r.reply.status, 400, r.text);
      assert.equal((JSON.parse(r.text) as { error: string }).error, 'json-duplicate-key');
      assert.equal(r.reached, false, 'the backend was called');
      assert.equal(r.record.reason, 'json-duplicate-key');
      assert.equal(r.record.status, 400);
      assert.match(r.record.detail ?? '', /^duplicate JSON key "(employee|id)"$/);
    });
  }

  it('a body whose keys are unique in each object is forwarded byte for byte', async () => {
    const body = '{"employee":"bob","items":[{"employee":"x"},{"employee":"y"}],"note":"\\"employee\\":1"}';
    const r = await postBody(body);
    assert.equal(r.reply.status, 200, r.text);
    assert.equal(seen.at(-1), body);
  });
});

describe('duplicate JSON keys: the MCP door (tool arguments and the message)', () => {
  let env: DoorEnv;
  let token: string;
  before(async () => {
    env = await startDoorEnv();
    token = await env.token('alice');
  });
  after(async () => {
    await env.close();
  });

  /** A stateless `tools/call` of team.reports whose JSON text has `arguments` replaced by `args` (raw JSON). */
  function call(args: string): { body: string; headers: ReturnType<typeof stateless>['headers'] } {
    const r = stateless(token, 'tools/call', { name: 'team.reports', arguments: { PLACEHOLDER: true } });
    return { body: JSON.stringify(r.body).replace('{"PLACEHOLDER":true}', args), headers: r.headers };
  }

  it('the rule works: Alice may see Bob\'s reports (he reports to her), not Mallory\'s', async () => {
    const ok = call('{"employee":"bob"}');
    const result = messageOf(await post(env, ok.body, ok.headers))['result'] as Record<string, unknown> | undefined;
    assert.deepEqual(result?.['structuredContent'], { user: 'alice', tool: 'team.reports', args: { employee: 'bob' } });
    const no = call('{"employee":"mallory"}');
    assertRpcError(await post(env, no.body, no.headers), 200, -31403, 'mallory');
  });

  for (const [what, args] of BODIES.slice(0, 2)) {
    it(`tool arguments with ${what} are 400 -32600 json-duplicate-key, never called, audited`, async () => {
      const calls = env.source.calls.length;
      const r = call(args);
      const reply = await post(env, r.body, r.headers);
      const error = assertRpcError(reply, 400, -32600, what);
      assert.equal(error.data?.['reason'], 'json-duplicate-key');
      assert.equal(env.source.calls.length, calls, 'the tool was called');
      const record = (await env.auditRecords()).findLast((x) => x.requestId === reply.headers['x-request-id']);
      assert.equal(record?.reason, 'json-duplicate-key');
      assert.equal(record?.status, 400);
      assert.equal(record?.detail, 'Invalid Request: duplicate key "employee"');
    });
  }

  it('a message naming the tool twice is refused the same way', async () => {
    const r = stateless(token, 'tools/call', { name: 'team.reports', arguments: { employee: 'bob' } });
    const body = JSON.stringify(r.body).replace('"name":"team.reports"', '"name":"whoami","name":"team.reports"');
    const error = assertRpcError(await post(env, body, r.headers), 400, -32600, 'name twice');
    assert.equal(error.data?.['reason'], 'json-duplicate-key');
  });
});
