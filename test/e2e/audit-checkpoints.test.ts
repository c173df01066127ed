/**
 * A running gateway signs checkpoints of its trail and ships them to a webhook; an auditor with
 * only the published JWKS (`/.well-known/jwks.json`) verifies both the trail and what the
 * receiver got.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import { importCheckpointKeys, verifyCheckpoint } from '../../src/audit/checkpoint-format.js';
import { runAuditCli } from '../audit/helpers.js';
import { bearer, startQuietIdp } from './e2e-env.js';
import { startRecordingBackend, startTestGateway } from './harness.js';

test('the gateway checkpoints its trail every N records and at close, the webhook receives them, and an auditor with the JWKS verifies', async () => {
  const received: { seq: number; jws: string }[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { seq: number; jws: string });
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/checkpoints`;
  const backend = await startRecordingBackend();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = await startQuietIdp(publicUrl);
  const gw = await startTestGateway({
    server: { port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: [publicUrl], jwksUri: idp.jwksUri }],
    routes: [{ id: 'reviews', path: '/api/reviews', upstream: `${backend.url}/reviews` }],
    policies: [{ id: 'anyone', effect: 'allow', match: { routes: ['reviews'] } }],
    audit: { checkpoints: { everyRecords: 5, everySeconds: 3_600, webhook: hookUrl } },
  });
  try {
    const jwks = await (await fetch(`${publicUrl}/.well-known/jwks.json`)).json();
    const alice = await bearer(idp, 'alice');
    const get = async () => assert.equal((await fetch(`${publicUrl}/api/reviews`, { headers: alice })).status, 200);
    for (let i = 0; i < 6; i++) await get();
    // everySeconds is an hour: only the record count can have triggered this one.
    for (const end = Date.now() + 5_000; received.length === 0; ) {
      assert.ok(Date.now() < end, 'no checkpoint after 6 records with everyRecords 5');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(received[0]!.seq >= 5, `the first checkpoint covers the first 5 records: ${received[0]!.seq}`);
    for (let i = 0; i < 6; i++) await get();
    // While it runs: an auditor with the JWKS URL only (no key file), the newest records not yet signed.
    const live = await runAuditCli(['audit', 'verify', '--store', join(gw.dir, 'audit'), '--jwks', `${publicUrl}/.well-known/jwks.json`]);
    assert.equal(live.code, 0, `${live.out.join('\n')}\n${live.err}`);
    assert.match(live.out.join('\n'), /checkpoints: \d+ stored, \d+ verified\n  newest verified checkpoint: record \d+/);
    const metrics = await (await fetch(`${publicUrl}/metrics`)).text();
    const signed = Number(/^behalf_audit_checkpoints_total\{outcome="signed"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    const liveStored = Number(/checkpoints: (\d+) stored/.exec(live.out.join('\n'))?.[1]);
    assert.ok(signed >= 1, `the metric counts checkpoints: ${signed}`);
    // One may be between its store and its count, or signed since the verify read.
    assert.ok(Math.abs(signed - liveStored) <= 1, `the metric counts what the trail holds: ${signed} against ${liveStored}`);
    assert.match(metrics, /^behalf_audit_checkpoints_total\{outcome="failed"\} 0$/m);
    await gw.gateway.close();

    const records = await gw.auditRecords();
    assert.equal(records.length, 12);
    const jwksFile = join(gw.dir, 'published.jwks.json');
    await writeFile(jwksFile, JSON.stringify(jwks));
    const cli = await runAuditCli(['audit', 'verify', '--store', join(gw.dir, 'audit'), '--jwks', jwksFile, '--max-uncovered', '0']);
    assert.equal(cli.code, 0, `${cli.out.join('\n')}\n${cli.err}`);
    assert.match(cli.out.join('\n'), /newest verified checkpoint: record 12, .*records 1 to 12 are vouched for/);
    const stored = Number(/checkpoints: (\d+) stored/.exec(cli.out.join('\n'))?.[1]);
    assert.ok(stored >= 2, `every 5 records and at close: ${stored}`);

    // The receiver has the same checkpoints, each verifiable on its own with the published keys.
    assert.equal(received.length, stored);
    const keys = await importCheckpointKeys(jwks as { keys: [] });
    for (const cp of received) {
      const check = await verifyCheckpoint(cp.jws, keys);
      assert.ok(check.ok, JSON.stringify(check));
      assert.equal(check.checkpoint.seq, cp.seq);
    }
    assert.equal(received.at(-1)?.seq, 12);
  } finally {
    await gw.close();
    await idp.close();
    await backend.close();
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
  }
});
