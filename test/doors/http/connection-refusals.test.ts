import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createAuditor } from '../../../src/audit/auditor.js';
import { openFileAuditStore } from '../../../src/audit/file-store.js';
import { addressKey } from '../../../src/doors/http/connection-limits.js';
import { createConnectionRefusalRecorder } from '../../../src/doors/http/connection-refusals.js';
import { createMetrics } from '../../../src/observe/metrics.js';
import { readAuditTrail, tempDir } from '../../audit/helpers.js';

/**
 * Refused connections are counted one by one but audited as a first record and then one summary
 * per window, so a connection flood cannot flood the trail (connection-refusals.ts). A real file
 * audit store, a 100 ms window.
 */
describe('audit of refused connections', () => {
  it('first refusal at once, then one summary per window while they go on, then quiet; every refusal counted', async () => {
    const dir = await tempDir('behalf-refusals-');
    const store = await openFileAuditStore(dir);
    const auditor = createAuditor(store);
    const metrics = createMetrics({ defaultMetrics: false });
    const recorder = createConnectionRefusalRecorder({ auditor, metrics, logger: pino({ level: 'silent' }), now: Date.now, windowMs: 100 });
    const records = async () => (await readAuditTrail({ store: dir }, dir)).filter((r) => r.reason.startsWith('connection-limit'));
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    for (let i = 0; i < 500; i++) recorder.refused('connection-limit-per-address', i < 400 ? '10.0.0.1' : `10.0.1.${i % 100}`);
    await sleep(250);
    // Quiet for a whole window: the next refusal is a first one again.
    await sleep(150);
    recorder.refused('connection-limit-per-address', '10.0.0.9');
    recorder.refused('connection-limit', '10.0.0.2');
    recorder.flush();
    await auditor.close();

    const trail = await records();
    assert.deepEqual(
      trail.map((r) => [r.reason, r.detail?.replace(/in \d+ ms/, 'in N ms')]),
      [
        ['connection-limit-per-address', 'connection refused: 10.0.0.1'],
        ['connection-limit-per-address', '499 connection(s) refused in N ms: 10.0.0.1 x399, 10.0.1.0 x1, 10.0.1.1 x1, 10.0.1.2 x1, 10.0.1.3 x1, other addresses x96'],
        ['connection-limit-per-address', 'connection refused: 10.0.0.9'],
        ['connection-limit', 'connection refused: 10.0.0.2'],
      ],
    );
    assert.ok(trail.every((r) => r.status === 0 && r.door === 'http' && r.decision === 'deny'));
    const text = await metrics.registry.metrics();
    assert.match(text, /^behalf_connections_refused_total\{reason="connection-limit-per-address"\} 501$/m);
    assert.match(text, /^behalf_connections_refused_total\{reason="connection-limit"\} 1$/m);
  });
});

describe('the address a connection counts under', () => {
  it('IPv4 as it is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('2001:0DB8:0001:0002::'), '2001:db8:1:2::/64');
    assert.equal(addressKey(undefined), '');
  });
});
