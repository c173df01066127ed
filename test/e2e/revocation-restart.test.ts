/**
 * Revocations survive a restart: a second gateway on the same state directory (the default
 * `revocation.store`, `.behalf/revocations.json` next to the config file) still refuses what the
 * first one revoked, forgets what expired while it was down, and refuses to start on a corrupt
 * revocation file rather than forget.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { freePort } from '../../examples/hr-demo/launch.js';
import { validateConfig } from '../../src/config/load.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { startRecordingBackend, type RecordingBackend } from './harness.js';
import { bearer, manualClock, startQuietIdp, type ManualClock } from './e2e-env.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijklmnop';

describe('revocations kept in the state directory across restarts', () => {
  let dir: string;
  let idp: DevIdp;
  let backend: RecordingBackend;
  let clock: ManualClock;
  let port: number;
  let adminPort: number;
  let publicUrl: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-revoke-restart-'));
    backend = await startRecordingBackend();
    port = await freePort();
    adminPort = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    clock = manualClock();
    idp = await startQuietIdp(publicUrl, clock.now);
  });
  after(async () => {
    await idp.close();
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A gateway whose state (keys, audit, revocations) lives in `dir/.behalf`, all by default. */
  const start = (): Promise<Gateway> => {
    const result = validateConfig({
      server: { port, publicUrl },
      issuers: [{ id: 'dev', issuer: idp.issuer, audience: [publicUrl], jwksUri: idp.jwksUri }],
      routes: [{ id: 'reviews', path: '/api/reviews', upstream: `${backend.url}/reviews` }],
      policies: [{ id: 'anyone', effect: 'allow', match: { routes: ['reviews'] } }],
      admin: { port: adminPort, token: ADMIN_TOKEN },
    });
    if (!result.ok) throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    return startGateway({ config: result.config, baseDir: dir, file: join(dir, 'behalf.yaml') }, { logger: pino({ level: 'silent' }), now: clock.now });
  };
  const admin = (method: string, path = '', body?: unknown) =>
    fetch(`http://127.0.0.1:${adminPort}/admin/revocations${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const get = (headers: Record<string, string>) => fetch(`${publicUrl}/api/reviews`, { headers });
  const file = () => join(dir, '.behalf', 'revocations.json');

  test('a revoked user is still refused by a second gateway on the same state directory; one that expired meanwhile is forgotten', async () => {
    const bob = await bearer(idp, 'bob');
    const carol = await bearer(idp, 'carol');
    let gw = await start();
    try {
      assert.equal((await get(bob)).status, 200);
      assert.equal((await admin('POST', '', { kind: 'user', value: 'bob', ttlSeconds: 3_600, reason: 'laptop stolen' })).status, 201);
      assert.equal((await admin('POST', '', { kind: 'user', value: 'carol', ttlSeconds: 60 })).status, 201);
      assert.equal((await get(bob)).status, 401);
    } finally {
      await gw.close();
    }
    const kept = JSON.parse(await readFile(file(), 'utf8')) as { revocations: { value: string }[] };
    assert.deepEqual(kept.revocations.map((r) => r.value).sort(), ['bob', 'carol']);

    clock.advance(120_000); // carol's 60 s revocation ends while no gateway runs
    gw = await start();
    try {
      const res = await get(bob);
      assert.equal(res.status, 401, 'the restarted gateway still refuses bob');
      assert.equal(((await res.json()) as { error: string }).error, 'token-revoked');
      assert.equal((await get(carol)).status, 200, 'an expired revocation is not enforced after the restart');
      const listed = (await (await admin('GET')).json()) as { revocations: { value: string }[] };
      assert.deepEqual(listed.revocations.map((r) => r.value), ['bob']);
      assert.equal((await admin('DELETE', '/user/bob')).status, 200);
    } finally {
      await gw.close();
    }
    gw = await start();
    try {
      assert.equal((await get(bob)).status, 200, 'a lifted revocation stays lifted after a restart');
    } finally {
      await gw.close();
    }
  });

  test('a corrupt revocation file stops the gateway from starting, naming the file', async () => {
    await mkdir(join(dir, '.behalf'), { recursive: true });
    await writeFile(file(), '{"version":1,"revocations":[{"kind":"user","value":"bob"');
    await assert.rejects(start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'revocation-store-failed');
      assert.ok(err.message.includes(file()), err.message);
      assert.match(err.message, /refusing to start rather than forget revocations/);
      return true;
    });
    await writeFile(file(), JSON.stringify({ version: 1, revocations: [{ kind: 'group', value: 'x', at: 1, until: 2 }] }));
    await assert.rejects(start(), /revocations\[0\]\.kind must be user, client or token/);
  });
});
