import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createVerifier, type Verifier } from '../../../src/backend/index.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { createHttpToolSource, type HttpToolSource } from '../../../src/tools/http-tool.js';
import { startRecordingBackend, type RecordingBackend } from '../../e2e/harness.js';
import { close, listen } from '../../forward/fixtures.js';
import { callContext, digestOf, PUBLIC_URL, testConfig, testSigner, who } from './helpers.js';

/**
 * The config tool source against a real recording backend on 127.0.0.1: what the backend
 * receives (method, exact target, body, identity header, a verifiable assertion, no
 * credentials) and what the model gets back.
 */

const alice = who('alice', { scopes: ['reviews:read'], client: 'claude' });
const employee = { type: 'object', properties: { employee: { type: 'string' } }, required: ['employee'] };

const TOOLS: ConfigInput['tools'] = [
  { name: 'get_reviews', inputSchema: employee, call: { route: 'hr', method: 'GET', path: '/reviews/{employee}' } },
  {
    name: 'search',
    inputSchema: { type: 'object', properties: { year: { type: 'number' }, tags: { type: 'array' }, name: { type: 'string' } } },
    call: { route: 'hr', path: '/search', query: { year: '{year}', tag: '{tags}', q: 'name:{name}', fixed: 'a b' } },
  },
  { name: 'add_raw', inputSchema: { type: 'object' }, call: { route: 'hr', method: 'POST', path: '/raw', body: '$args' } },
  { name: 'hr_root', inputSchema: { type: 'object', properties: { q: { type: 'string' } } }, call: { route: 'hr', path: '', query: { q: '{q}' } } },
  { name: 'hr_root_slash', inputSchema: { type: 'object' }, call: { route: 'hr', path: '/' } },
  {
    name: 'add_review',
    inputSchema: { type: 'object', properties: { employee: { type: 'string' }, rating: { type: 'string' }, period: { type: 'string' }, tags: { type: 'array' }, constructor: { type: 'string' } }, required: ['employee'] },
    call: {
      route: 'hr',
      method: 'POST',
      path: '/reviews/{employee}',
      body: { rating: '{rating}', period: '{period}', meta: { tags: '{tags}', source: 'mcp', note: 'for {employee}', gone: '{constructor}' }, list: ['{rating}', '{period}'] },
    },
  },
];

let backend: RecordingBackend;
let source: HttpToolSource;
let verifier: Verifier;
let cleanupKeys: () => Promise<void>;
/** What the backend answers next (default: 200 JSON echo of the target). */
let answer: ((url: string) => { status: number; type?: string; body: string | Buffer }) | undefined;

before(async () => {
  backend = await startRecordingBackend((req, res) => {
    const a = answer?.(req.url ?? '') ?? { status: 200, type: 'application/json', body: JSON.stringify({ target: req.url }) };
    res.writeHead(a.status, a.type === undefined ? {} : { 'content-type': a.type });
    res.end(a.body);
  });
  const { keys, signer, cleanup } = await testSigner();
  cleanupKeys = cleanup;
  const config = testConfig({
    routes: [{ id: 'hr', path: '/api/hr', upstream: `${backend.url}/v1`, audience: 'hr-backend', identityHeaders: { 'X-User-Id': '{user.id}' } }],
    tools: TOOLS,
  });
  source = createHttpToolSource(config, { signer });
  verifier = createVerifier({ issuer: PUBLIC_URL, audience: 'hr-backend', keys: keys.publicJwks() });
});
after(async () => {
  await source.close();
  await backend.close();
  await cleanupKeys();
});

async function call(tool: string, args: Record<string, unknown>) {
  const before = backend.seen.length;
  const result = await source.call(tool, args, callContext(alice, args));
  return { result, seen: backend.seen.slice(before) };
}

describe('config tools: the request the backend receives', () => {
  it('GET with the path argument, the identity header, a verifiable assertion with tool and args digest, no credentials', async () => {
    const args = { employee: 'bob' };
    const { result, seen } = await call('get_reviews', args);
    assert.equal(seen.length, 1);
    const [req] = seen;
    assert.equal(req!.method, 'GET');
    assert.equal(req!.url, '/v1/reviews/bob');
    assert.equal(req!.headers['x-user-id'], 'alice');
    assert.equal(req!.headers['authorization'], undefined);
    assert.equal(req!.headers['x-request-id'], 'req-test-1');
    const caller = await verifier.verify({ method: req!.method, url: req!.url, headers: req!.headers }, req!.body);
    assert.equal(caller.user, 'alice');
    assert.equal(caller.client, 'claude');
    assert.equal(caller.tool, 'get_reviews');
    assert.equal(caller.claims['args'], digestOf(args));
    assert.deepEqual(result.structuredContent, { target: '/v1/reviews/bob' });
    assert.equal(result.isError, undefined);
    assert.equal(result.upstreamStatus, 200);
  });

  it('call.path "" is the route\'s upstream base path itself; "/" is the base path and a slash', async () => {
    assert.equal((await call('hr_root', {})).seen[0]?.url, '/v1');
    assert.equal((await call('hr_root', { q: 'a b' })).seen[0]?.url, '/v1?q=a%20b');
    assert.equal((await call('hr_root_slash', {})).seen[0]?.url, '/v1/');
  });

  it('path arguments are percent-encoded: "?", "#", "%", spaces and unicode cannot change the target', async () => {
    const cases: [string, string][] = [
      ['a b', '/v1/reviews/a%20b'],
      ['x?admin=1#frag', '/v1/reviews/x%3Fadmin%3D1%23frag'],
      ['zoë', '/v1/reviews/zo%C3%AB'],
      ['%2e%2e', '/v1/reviews/%252e%252e'],
      ['..;x', '/v1/reviews/..%3Bx'],
      ['__proto__', '/v1/reviews/__proto__'],
    ];
    for (const [value, target] of cases) {
      const { result, seen } = await call('get_reviews', { employee: value });
      assert.equal(seen[0]?.url, target, value);
      assert.equal(result.isError, undefined, value);
      // The backend sees exactly what the assertion binds.
      await verifier.verify({ method: 'GET', url: seen[0]!.url, headers: seen[0]!.headers }, seen[0]!.body);
    }
  });

  it('a path argument that could leave the template\'s path is refused, and nothing is sent', async () => {
    for (const value of ['..', '.', '../admin', 'a/b', 'a\\b', 'nul\u0000', '']) {
      const { result, seen } = await call('get_reviews', { employee: value });
      assert.equal(seen.length, 0, JSON.stringify(value));
      assert.equal(result.isError, true, JSON.stringify(value));
      assert.match(String(result.content[0]?.['text']), /argument|segment/);
    }
    const { result, seen } = await call('get_reviews', { employee: { nested: 1 } });
    assert.equal(seen.length, 0);
    assert.equal(result.isError, true);
  });

  it('query: absent arguments are left out, arrays repeat the parameter, names and values are encoded', async () => {
    let r = await call('search', { year: 2024, tags: ['a', 'b c'] });
    assert.equal(r.seen[0]?.url, '/v1/search?year=2024&tag=a&tag=b%20c&fixed=a%20b');
    r = await call('search', { name: 'Zoë & co' });
    assert.equal(r.seen[0]?.url, '/v1/search?q=name%3AZo%C3%AB%20%26%20co&fixed=a%20b');
    r = await call('search', {});
    assert.equal(r.seen[0]?.url, '/v1/search?fixed=a%20b');
    await verifier.verify({ method: 'GET', url: r.seen[0]!.url, headers: r.seen[0]!.headers }, r.seen[0]!.body);
  });

  it('body "$args" sends the arguments as JSON, bound by the assertion\'s body digest', async () => {
    const args = { employee: 'bob', nested: { list: [1, 'two', null] }, __proto__x: true };
    const { seen } = await call('add_raw', args);
    assert.equal(seen[0]?.method, 'POST');
    assert.equal(seen[0]?.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(seen[0]!.body.toString('utf8')), args);
    await verifier.verify({ method: 'POST', url: seen[0]!.url, headers: seen[0]!.headers }, seen[0]!.body);
  });

  it('body object: templates take the arguments\' JSON values; absent ones are left out; literals stay', async () => {
    let r = await call('add_review', { employee: 'bob', rating: 'meets', tags: ['x', 1] });
    assert.equal(r.seen[0]?.url, '/v1/reviews/bob');
    assert.deepEqual(JSON.parse(r.seen[0]!.body.toString('utf8')), {
      rating: 'meets',
      meta: { tags: ['x', 1], source: 'mcp', note: 'for bob' },
      list: ['meets', null],
    });
    // `{constructor}` is an argument name like any other: absent, never Object.prototype's.
    r = await call('add_review', { employee: 'bob', constructor: 'c' });
    assert.deepEqual(JSON.parse(r.seen[0]!.body.toString('utf8')).meta, { source: 'mcp', note: 'for bob', gone: 'c' });
    await verifier.verify({ method: 'POST', url: r.seen[0]!.url, headers: r.seen[0]!.headers }, r.seen[0]!.body);
  });
});

describe('config tools: what the model gets back', () => {
  after(() => {
    answer = undefined;
  });

  it('a JSON array becomes { items } structured content, with the JSON as text', async () => {
    answer = () => ({ status: 200, type: 'application/json; charset=utf-8', body: '[{"id":1},{"id":2}]' });
    const { result } = await call('get_reviews', { employee: 'bob' });
    assert.deepEqual(result.structuredContent, { items: [{ id: 1 }, { id: 2 }] });
    assert.deepEqual(JSON.parse(String(result.content[0]?.['text'])), { items: [{ id: 1 }, { id: 2 }] });
  });

  it('text, images and empty answers', async () => {
    answer = () => ({ status: 200, type: 'text/plain', body: 'plain words' });
    assert.deepEqual((await call('get_reviews', { employee: 'bob' })).result.content, [{ type: 'text', text: 'plain words' }]);
    answer = () => ({ status: 200, type: 'image/png', body: Buffer.from([0x89, 0x50, 0x4e, 0x47]) });
    assert.deepEqual((await call('get_reviews', { employee: 'bob' })).result.content, [{ type: 'image', data: 'iVBORw==', mimeType: 'image/png' }]);
    answer = () => ({ status: 204, body: '' });
    const empty = (await call('get_reviews', { employee: 'bob' })).result;
    assert.equal(empty.isError, undefined);
    assert.match(String(empty.content[0]?.['text']), /204 with no content/);
    answer = () => ({ status: 200, type: 'application/json', body: '{not json' });
    assert.deepEqual((await call('get_reviews', { employee: 'bob' })).result.content, [{ type: 'text', text: '{not json' }]);
  });

  it('a 4xx is an error result with the backend\'s short message; a 5xx shows nothing of its body', async () => {
    answer = () => ({ status: 404, type: 'application/json', body: JSON.stringify({ error: 'no such employee' }) });
    let r = (await call('get_reviews', { employee: 'zed' })).result;
    assert.equal(r.isError, true);
    assert.equal(r.content[0]?.['text'], 'backend answered 404: no such employee');
    assert.equal(r.upstreamStatus, 404);
    assert.equal(r.detail, 'backend answered 404');
    answer = () => ({ status: 400, type: 'application/json', body: JSON.stringify({ message: 'x'.repeat(5_000) }) });
    r = (await call('get_reviews', { employee: 'bob' })).result;
    assert.ok(String(r.content[0]?.['text']).length < 250, 'the excerpt is bounded');
    answer = () => ({ status: 500, type: 'text/plain', body: 'TypeError: secret at /srv/hr/db.js:42\n    at Pool.query' });
    r = (await call('get_reviews', { employee: 'bob' })).result;
    assert.equal(r.isError, true);
    assert.deepEqual(r.content, [{ type: 'text', text: 'backend answered 500' }]);
    assert.equal(r.upstreamStatus, 500);
  });
});

describe('config tools: a backend that fails', () => {
  it('down: "backend unavailable"; too slow: "backend timed out"; too big: refused; a cancelled call rejects', async () => {
    const { signer, cleanup } = await testSigner();
    const slow = createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ blob: 'y'.repeat(4_096) }));
      }
      // anything else: never answers
    });
    const slowUrl = await listen(slow);
    const down = createServer();
    const downUrl = await listen(down);
    await close(down);
    const config = testConfig({
      routes: [
        { id: 'slow', path: '/slow', upstream: slowUrl, timeoutMs: 200 },
        { id: 'down', path: '/down', upstream: downUrl },
      ],
      tools: [
        { name: 'wait', call: { route: 'slow', path: '/wait' } },
        { name: 'big', call: { route: 'slow', path: '/big' } },
        { name: 'gone', call: { route: 'down', path: '/x' } },
      ],
    });
    const s = createHttpToolSource(config, { signer, maxResponseBytes: 1_024 });
    try {
      const gone = await s.call('gone', {}, callContext(alice, {}));
      assert.deepEqual([gone.isError, gone.content[0]?.['text']], [true, 'backend unavailable']);
      assert.match(String(gone.detail), /^backend unavailable \(/);
      const wait = await s.call('wait', {}, callContext(alice, {}));
      assert.deepEqual([wait.isError, wait.content[0]?.['text']], [true, 'backend timed out']);
      const big = await s.call('big', {}, callContext(alice, {}));
      assert.equal(big.isError, true);
      assert.match(String(big.content[0]?.['text']), /more than the gateway accepts/);
      const cancel = new AbortController();
      const pending = s.call('wait', {}, callContext(alice, {}, cancel.signal));
      setTimeout(() => cancel.abort(new Error('client cancelled')), 20);
      await assert.rejects(pending, /client cancelled/);
    } finally {
      await s.close();
      await close(slow);
      await cleanup();
    }
  });
});
