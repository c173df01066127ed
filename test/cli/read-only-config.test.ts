import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeTrail } from '../audit/helpers.js';
import { parseConfigText } from '../../src/config/load.js';
import { startGateway } from '../../src/gateway.js';
import { HR_DEMO_DIR, cleanup, runCli, tempDir, writeTemp } from './helpers.js';

/**
 * A command needs only the `${VAR}`s of what it reads (docs/operations.md, "Commands and the
 * environment"); one unset variable is one error line; usage errors name close matches.
 */

after(cleanup);

const HR_CONFIG = join(HR_DEMO_DIR, 'behalf.yaml');

const CONFIG = `
server: { port: "\${PORT}", publicUrl: "\${PUBLIC_URL}" }
issuers:
  - { id: idp, issuer: "\${IDP_URL}", audience: "\${PUBLIC_URL}" }
admin: { token: "\${ADMIN_TOKEN}" }
routes:
  - { id: hr, path: /api/hr, upstream: "\${HR_URL}/v1" }
audit: { store: "\${STATE}/audit" }
`;

describe('${VAR} resolution by what a command reads', () => {
  it('audit query reads only audit.store: the other variables (admin token, URLs, port) may be unset', async () => {
    const state = await tempDir();
    await writeTrail(join(state, 'audit'), 3);
    const file = await writeTemp('behalf.yaml', CONFIG);
    const r = await runCli(['audit', 'query', '--config', file, '--json'], { STATE: state });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.split('\n').length, 3);
    assert.equal(r.err, '');
  });

  it('one unset variable a command needs is one error line, naming the file, the path and the variable', async () => {
    const file = await writeTemp('behalf.yaml', CONFIG);
    const r = await runCli(['audit', 'verify', '--config', file], {});
    assert.equal(r.code, 1);
    assert.equal(r.err, `config-invalid: ${file}: audit.store: environment variable STATE is not set`);
  });

  it('the gateway needs every variable: one problem per variable (the values using it are not also reported invalid)', () => {
    const r = parseConfigText(CONFIG, { PORT: '8080', IDP_URL: 'http://127.0.0.1:1', ADMIN_TOKEN: 'x'.repeat(40), STATE: '/tmp/x' });
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.problems.map((p) => `${p.path}: ${p.message}`), [
      'server.publicUrl: environment variable PUBLIC_URL is not set (also used at issuers[0].audience)',
      'routes[0].upstream: environment variable HR_URL is not set',
    ]);
  });

  it('a variable nobody needs gets a placeholder that validates, is reported back, and the gateway refuses such a config', async () => {
    const r = parseConfigText(CONFIG, {}, { needs: [] });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.equal(r.config.server.port, 0);
    assert.equal(r.config.routes[0]!.upstream, 'http://unset.invalid/v1');
    assert.deepEqual(r.unset.map((v) => v.name), ['PORT', 'PUBLIC_URL', 'IDP_URL', 'ADMIN_TOKEN', 'HR_URL', 'STATE']);
    await assert.rejects(startGateway({ config: r.config, baseDir: '/', file: 'behalf.yaml', unset: r.unset }), { code: 'config-invalid', message: /PORT/ });
  });

  it('tools pins reads only signing.keyFile', async () => {
    const file = await writeTemp('behalf.yaml', `${CONFIG}signing: { keyFile: "\${STATE}/keys.json" }\n`);
    const state = await tempDir();
    const r = await runCli(['tools', 'pins', '--config', file], { STATE: state });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^no tools pinned yet/);
  });

  it('the HR demo config checks as the README shows it: OK, with a warning per unset variable', async () => {
    const r = await runCli(['check', HR_CONFIG], {});
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^${HR_CONFIG.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: OK \\(\\d+ warning\\(s\\)\\)$`));
    assert.match(r.err, /^warning: routes\[0\]\.upstream: environment variable DEMO_HR_URL is not set; checked with a placeholder value/m);
  });
});

describe('enum-like flags are checked, naming close matches', () => {
  it('audit query --reason with an unknown code is a usage error (exit 2) suggesting the close ones', async () => {
    const r = await runCli(['audit', 'query', '--store', await tempDir(), '--reason', 'no-matching-rules']);
    assert.equal(r.code, 2);
    assert.match(r.err, /not a reason code: did you mean no-matching-rule\?/);
    const none = await runCli(['audit', 'query', '--store', await tempDir(), '--reason', 'nonsense']);
    assert.equal(none.code, 2);
    assert.match(none.err, /not a reason code: see docs\/errors\.md/);
  });
});
