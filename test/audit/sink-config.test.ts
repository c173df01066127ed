import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AUDIT_NEEDS } from '../../src/cli/commands/audit.js';
import { parseConfigText } from '../../src/config/load.js';

// A sink's secret comes from the environment; the audit commands (query, tail, verify) do not
// need it, the gateway does.

const YAML = `
server: { publicUrl: "https://gw.test" }
issuers: [{ id: idp, issuer: "https://idp.test", audience: "https://gw.test" }]
audit:
  store: \${AUDIT_DIR}
  sinks:
    - type: webhook
      url: https://siem.test/ingest
      headers: { Authorization: "Bearer \${SIEM_TOKEN}" }
`;

it('the audit commands read the store without the sink token; the gateway needs it', () => {
  const forCli = parseConfigText(YAML, { AUDIT_DIR: '/var/lib/behalf/audit' }, { needs: AUDIT_NEEDS });
  assert.ok(forCli.ok, JSON.stringify(!forCli.ok && forCli.problems));
  assert.equal(forCli.config.audit.store, '/var/lib/behalf/audit');
  assert.deepEqual(forCli.unset?.map((u) => u.name), ['SIEM_TOKEN']);

  const forServe = parseConfigText(YAML, { AUDIT_DIR: '/var/lib/behalf/audit' }, { needs: 'all' });
  assert.equal(forServe.ok, false);
  assert.match(JSON.stringify(!forServe.ok && forServe.problems), /SIEM_TOKEN is not set/);

  const ok = parseConfigText(YAML, { AUDIT_DIR: '/a', SIEM_TOKEN: 's3cret' }, { needs: 'all' });
  assert.ok(ok.ok);
  const sink = ok.config.audit.sinks[0]!;
  assert.equal(sink.type === 'webhook' && sink.headers['Authorization'], 'Bearer s3cret');
  assert.equal(sink.batchMaxRecords, 500);
  assert.equal(sink.maxQueue, 10_000);
});
