import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { isBehalfError } from '../../src/errors.js';
import { createDirectory, type Directory, type DirectoryLogger } from '../../src/resolve/directory.js';

/** A directory service: serves `body` with an ETag, answers 304 to a matching If-None-Match. */
interface Upstream {
  body: string;
  status: number;
  hang: boolean;
  requests: IncomingHttpHeaders[];
  notModified: number;
}

describe('directory from an HTTP endpoint', () => {
  let server: Server;
  let base: string;
  const upstream: Upstream = { body: '', status: 200, hang: false, requests: [], notModified: 0 };
  const open: Directory[] = [];

  before(async () => {
    server = createServer((req, res) => {
      upstream.requests.push(req.headers);
      if (upstream.hang) return; // never answers: the client's timeout must end it
      const etag = `"${createHash('sha256').update(upstream.body).digest('hex').slice(0, 16)}"`;
      if (upstream.status === 200 && req.headers['if-none-match'] === etag) {
        upstream.notModified++;
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(upstream.status, { 'content-type': 'application/json', etag }).end(upstream.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await Promise.all(open.map((d) => d.close()));
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    Object.assign(upstream, { status: 200, hang: false, requests: [], notModified: 0 });
    upstream.body = JSON.stringify({ users: [{ id: 'alice', department: 'Platform' }, { id: 'bob', manager: 'alice' }] });
  });

  const make = (extra: { refreshMs?: number; logger?: DirectoryLogger; timeoutMs?: number; path?: string } = {}) => {
    const d = createDirectory(
      { url: `${base}${extra.path ?? '/directory?key=s3cret-query'}`, refreshMs: extra.refreshMs ?? 60_000, headers: { authorization: 'Bearer directory-secret' } },
      { baseDir: '/', ...(extra.logger ? { logger: extra.logger } : {}), timeoutMs: extra.timeoutMs ?? 2_000 },
    );
    open.push(d);
    return d;
  };

  it('loads, sends the configured headers, then revalidates with If-None-Match', async () => {
    const d = make();
    await d.start();
    assert.deepEqual(d.snapshot().get('alice')?.reports, ['bob']);
    assert.equal(upstream.requests[0]?.authorization, 'Bearer directory-secret');

    assert.equal(await d.reload(), false, 'unchanged directory: nothing new');
    assert.equal(upstream.notModified, 1, 'the server answered 304');
    assert.equal(d.snapshot().version, 1);

    upstream.body = JSON.stringify({ users: [{ id: 'alice' }, { id: 'bob', manager: 'alice' }, { id: 'carol', manager: 'alice' }] });
    assert.equal(await d.reload(), true);
    assert.deepEqual(d.snapshot().get('alice')?.reports, ['bob', 'carol']);
    assert.equal(d.snapshot().version, 2);
  });

  it('keeps the previous snapshot on a server error or an invalid body, and logs no secret', async () => {
    const warnings: string[] = [];
    const d = make({ logger: { warn: (obj, msg) => void warnings.push(`${msg} ${JSON.stringify(obj)}`), info: () => {} } });
    await d.start();
    const good = d.snapshot();

    upstream.status = 503;
    assert.equal(await d.reload(), false);
    upstream.status = 200;
    upstream.body = JSON.stringify({ users: [{ id: 'alice' }, { id: 'alice' }] });
    assert.equal(await d.reload(), false);

    assert.equal(d.snapshot(), good);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /HTTP 503/);
    assert.match(warnings[1]!, /users\[1\]\.id: duplicate id/);
    for (const w of warnings) {
      assert.doesNotMatch(w, /directory-secret|s3cret-query/);
      assert.match(w, /\/directory/);
    }
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    const warnings: string[] = [];
    const d = make({ timeoutMs: 200, logger: { warn: (obj) => void warnings.push(JSON.stringify(obj)), info: () => {} } });
    await d.start();
    upstream.hang = true;
    const started = Date.now();
    assert.equal(await d.reload(), false);
    assert.ok(Date.now() - started < 2_000);
    assert.match(warnings[0]!, /timed out after 200 ms/);
    assert.equal(d.snapshot().get('bob')?.manager, 'alice');
  });

  it('polls every refreshMs on its own', async () => {
    const d = make({ refreshMs: 50 });
    await d.start();
    upstream.body = JSON.stringify({ users: [{ id: 'alice' }, { id: 'dave', manager: 'alice' }] });
    const end = Date.now() + 5_000;
    while (d.snapshot().get('dave') === undefined) {
      if (Date.now() > end) assert.fail('the poll did not pick up the change');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(d.snapshot().get('alice')?.team, ['dave']);
  });

  it('fails start() with directory-load-failed when the first fetch fails, without the query or headers', async () => {
    upstream.status = 500;
    await assert.rejects(make().start(), (err) => {
      assert.ok(isBehalfError(err, 'directory-load-failed'));
      assert.match(err.message, /\/directory: HTTP 500/);
      assert.doesNotMatch(err.message, /s3cret-query|directory-secret/);
      return true;
    });
  });
});
