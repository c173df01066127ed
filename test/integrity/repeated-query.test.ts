import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { close, listen, send } from '../forward/fixtures.js';
import { startRouteGateway, type RouteGateway } from '../forward/route-gateway.js';

/**
 * Class 1 of "Request integrity": a query name given more than once. The rule
 * `directory[request.query.assignee].department == user.department` once let Alice (Finance) read
 * the tickets of Bob (Platform) with `?assignee=mallory&assignee=bob`: policy read the first
 * value (Mallory, Finance), the backend read the other. Through a real gateway on 127.0.0.1 and a
 * real backend, each ambiguous request must be refused with 400 and its reason, never reach the
 * backend, and be audited with a detail naming the parameter and no value.
 *
 * This does NOT test the reader's every edge (test/lib/canonical-query.test.ts does), nor MCP
 * (tool arguments are JSON, not a query).
 */

const DIRECTORY = `users:
  - { id: alice, name: Alice, email: alice@acme.test, department: Finance }
  - { id: mallory, name: Mallory, email: mallory@acme.test, department: Finance }
  - { id: bob, name: Bob, email: bob@acme.test, department: Platform }
`;

let gw: RouteGateway;
let dir: string;
let backendUrl: string;
const seen: string[] = [];
const backend = createServer((req, res) => {
  seen.push(req.url ?? '');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'behalf-repeated-query-'));
  await writeFile(join(dir, 'directory.yaml'), DIRECTORY);
  backendUrl = await listen(backend);
  gw = await startRouteGateway({
    directory: { file: join(dir, 'directory.yaml') },
    routes: [
      { id: 'tickets', path: '/api/tickets', upstream: backendUrl },
      { id: 'search', path: '/api/search', upstream: backendUrl, query: { repeated: 'allow' } },
    ],
    policies: [
      { id: 'same-department-tickets', effect: 'allow', match: { routes: ['tickets'] }, when: 'directory[request.query.assignee].department == user.department' },
      { id: 'search-own-department', effect: 'allow', match: { routes: ['search'] }, when: 'request.queryAll.assignee.all(a, directory[a].department == user.department)' },
      { id: 'search-by-single-assignee', effect: 'allow', match: { routes: ['search'], paths: ['/api/search/single'] }, when: 'directory[request.query.assignee].department == user.department' },
    ],
  });
});
after(async () => {
  await gw.close();
  await close(backend);
  await rm(dir, { recursive: true, force: true });
});

async function get(path: string) {
  const before = seen.length;
  const reply = await send(gw.url, { path, headers: await gw.auth() });
  const requestId = String(reply.headers['x-request-id']);
  const record = await gw.recordOf(requestId);
  return { reply, record, reached: seen.length > before, body: reply.body.toString('utf8') };
}

describe('repeated query names (HTTP routes)', () => {
  it('the rule works: Alice reads a Finance colleague\'s tickets, not Bob\'s', async () => {
    const ok = await get('/api/tickets?assignee=mallory');
    assert.equal(ok.reply.status, 200, ok.body);
    assert.ok(ok.reached);
    const no = await get('/api/tickets?assignee=bob');
    assert.equal(no.reply.status, 403);
    assert.equal(no.reached, false);
  });

  for (const [what, query] of [
    ['the name twice', '?assignee=mallory&assignee=bob'],
    ['the name twice, the second percent-encoded', '?assignee=mallory&%61ssignee=bob'],
    ['the name twice, the second in another case', '?assignee=mallory&Assignee=bob'],
    ['the name twice, the first with no value', '?assignee&assignee=bob'],
  ] as const) {
    it(`${what} (${query}) is 400 query-repeated, never forwarded, audited with the name and no value`, async () => {
      const r = await get(`/api/tickets${query}`);
      assert.equal(r.reply.status, 400, r.body);
      assert.equal((JSON.parse(r.body) as { error: string }).error, 'query-repeated');
      assert.equal(r.reached, false, 'the backend was called');
      assert.equal(r.record.reason, 'query-repeated');
      assert.equal(r.record.status, 400);
      assert.match(r.record.detail ?? '', /query parameter "assignee" repeated/);
      assert.doesNotMatch(JSON.stringify(r.record), /bob|mallory/, 'a value reached the audit record');
    });
  }

  for (const [what, query] of [
    ['a bad escape in a value', '?assignee=%zz'],
    ['a lone % in a name', '?assign%=mallory'],
    ['bytes that are not UTF-8', '?assignee=%ff%fe'],
  ] as const) {
    it(`${what} (${query}) is 400 query-malformed and never forwarded`, async () => {
      const r = await get(`/api/tickets${query}`);
      assert.equal(r.reply.status, 400, r.body);
      assert.equal(r.record.reason, 'query-malformed');
      assert.equal(r.reached, false);
    });
  }

  it('a name given once but percent-encoded is read decoded: `%61ssignee=bob` is decided on bob', async () => {
    const r = await get('/api/tickets?%61ssignee=bob');
    assert.equal(r.reply.status, 403);
    assert.equal(r.record.reason, 'no-matching-rule');
  });

  it('a route with query.repeated: allow decides on every value (request.queryAll) and audits the repeated name', async () => {
    const ok = await get('/api/search?assignee=mallory&assignee=alice');
    assert.equal(ok.reply.status, 200, ok.body);
    assert.ok(seen.at(-1)?.endsWith('?assignee=mallory&assignee=alice'), `forwarded as received: ${seen.at(-1)}`);
    assert.match(ok.record.detail ?? '', /query parameters repeated \(allowed by the route\): assignee/);
    const no = await get('/api/search?assignee=mallory&%61ssignee=bob');
    assert.equal(no.reply.status, 403, no.body);
    assert.equal(no.reached, false);
  });

  it('on such a route, a rule reading request.query.<name> of a repeated name fails closed', async () => {
    const once = await get('/api/search/single?assignee=mallory');
    assert.equal(once.reply.status, 200, once.body);
    // search-own-department denies (bob is in Platform); search-by-single-assignee would allow on
    // the first value (mallory), but a repeated name is not in request.query.
    const twice = await get('/api/search/single?assignee=mallory&assignee=bob');
    assert.equal(twice.reply.status, 403, twice.body);
    assert.equal(twice.reached, false);
  });
});
