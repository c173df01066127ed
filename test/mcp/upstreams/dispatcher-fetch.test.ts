import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { dispatcherFetch } from '../../../src/mcp-upstream/transport.js';

// The SDK passes one AbortSignal for every request of a session. The transport's fetch must
// leave no listener on it once a request is done (Node 20's fetch kept one per request until GC,
// and warned on stderr past the limit), and must behave like fetch for the SDK.

test('requests sharing one session signal leave no abort listener behind and answer like fetch', { timeout: 10_000 }, async () => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/empty') {
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
      res.end(JSON.stringify({ method: req.method, auth: req.headers['x-test'] ?? null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  const session = new AbortController();
  const fetchLike = dispatcherFetch();
  try {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const answers = await Promise.all(
      Array.from({ length: 300 }, () =>
        fetchLike(`${base}/mcp`, { method: 'POST', body: '{}', headers: { 'x-test': 'yes' }, signal: session.signal }).then((r) => r.json() as Promise<{ method: string; auth: string }>),
      ),
    );
    process.off('warning', onWarning);
    assert.ok(answers.every((a) => a.method === 'POST' && a.auth === 'yes'));
    // undici removes a request's listener as it completes (the last one a tick later): 300
    // requests must not leave 300 listeners.
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(getEventListeners(session.signal, 'abort').length, 0, 'listeners left on the session signal');
    assert.deepEqual(warnings, []);

    const empty = await fetchLike(`${base}/empty`, { method: 'DELETE', signal: session.signal });
    assert.equal(empty.status, 204);
    assert.equal(await empty.text(), '');

    const cookies = await fetchLike(`${base}/mcp`, { method: 'POST', body: '{}' });
    assert.equal(cookies.headers.get('set-cookie'), 'a=1, b=2');

    await assert.rejects(fetchLike('http://127.0.0.1:1/mcp', { method: 'POST', body: '{}' }), (err: unknown) => err instanceof TypeError && err.message === 'fetch failed');
  } finally {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
});
