import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { HR_DEMO_DIR, REPO_DIR, cleanup, runCli, tempDir, writeTemp } from './helpers.js';

/**
 * The CLI commands run in-process through `main` (the same argument parsing, output and exit
 * codes as the `behalf` binary), in one file because each test file pays ~1 s to load the gateway.
 * test/slow/serve.test.ts runs real processes.
 */

after(cleanup);

/** A small complete config; tests change one thing at a time. */
const VALID = `
server: { publicUrl: "https://gw.example" }
issuers:
  - { id: idp, issuer: "https://idp.example", audience: "https://gw.example", jwksUri: "https://idp.example/jwks" }
routes:
  - id: hr
    path: /api/hr
    upstream: "\${HR_URL}/v1"
    identityHeaders: { X-User-Id: "{user.id}" }
policies:
  - id: read-own
    effect: allow
    match: { routes: [hr], paths: ["/api/hr/reviews/:employee"] }
    when: request.params.employee == user.id
`;


describe('behalf check', () => {
  it('a valid file prints "<file>: OK" and exits 0', async () => {
    const file = await writeTemp('behalf.yaml', VALID);
    const r = await runCli(['check', file], { HR_URL: 'http://127.0.0.1:9001' });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${file}: OK`);
    assert.equal(r.err, '');
  });

  it('an invalid file prints every problem as "path: message", a count, and exits 1', async () => {
    const file = await writeTemp(
      'behalf.yaml',
      `
server: { publicUrl: "https://gw.example", port: 99999 }
issuers:
  - { id: idp, issuer: "https://idp.example", audience: "https://gw.example" }
routes:
  - { id: hr, path: /api/hr, upstream: "http://127.0.0.1:9001/v1" }
  - { id: pay, path: /api/pay, upstream: "ftp://user:secret@pay.internal/v1" }
  - { id: wiki, path: /api/wiki, upsteam: "http://127.0.0.1:9002" }
`,
    );
    const r = await runCli(['check', file]);
    assert.equal(r.code, 1);
    assert.equal(r.out, '', 'nothing on stdout: a script piping it must not read "OK"');
    const lines = r.err.split('\n');
    assert.ok(lines.includes('routes[1].upstream: must be an http(s) URL without credentials'), r.err);
    assert.ok(lines.includes('routes[2]: unknown key(s): upsteam'), r.err);
    assert.ok(lines.some((l) => l.startsWith('routes[2].upstream: ')), r.err);
    assert.ok(lines.some((l) => l.startsWith('server.port: ')), r.err);
    assert.equal(lines.at(-1), `${file}: ${lines.length - 1} problem(s)`);
    assert.ok(!r.err.includes('secret'), 'a credential in the file is not echoed');
  });

  it('an unset ${ENV} variable is a warning naming it and where it is used (CI checks without secrets); --require-env makes it a problem', async () => {
    const file = await writeTemp('behalf.yaml', VALID);
    const r = await runCli(['check', file], {});
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${file}: OK (1 warning(s))`);
    assert.equal(r.err, 'warning: routes[0].upstream: environment variable HR_URL is not set; checked with a placeholder value (behalf serve needs it)');
    const strict = await runCli(['check', '--require-env', file], {});
    assert.equal(strict.code, 1);
    assert.deepEqual(strict.err.split('\n'), ['routes[0].upstream: environment variable HR_URL is not set', `${file}: 1 problem(s)`]);
  });

  it('names a policy condition that does not compile by its path, with the other start-up checks', async () => {
    const file = await writeTemp(
      'behalf.yaml',
      VALID.replace('when: request.params.employee == user.id', 'when: request.params.employee == ')
        .replace('{user.id}', '{user.salary}')
        .concat('audit: { store: "redis://db.internal/audit" }\n'),
    );
    const r = await runCli(['check', file], { HR_URL: 'http://127.0.0.1:9001' });
    assert.equal(r.code, 1);
    const lines = r.err.split('\n');
    assert.match(lines.find((l) => l.startsWith('policies[0].when: ')) ?? r.err, /^policies\[0\]\.when: \S/);
    assert.match(r.err, /identityHeaders\.X-User-Id: unknown placeholder \{user\.salary\}/);
    assert.match(r.err, /^audit\.store: the "redis" store is not available/m);
    assert.equal(lines.at(-1), `${file}: 3 problem(s)`);
  });

  it('a file that cannot be read says so, naming the file and the reason, and exits 1', async () => {
    const missing = join(await tempDir(), 'nope.yaml');
    const r = await runCli(['check', missing]);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, new RegExp(`cannot read config file ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`));
    const dir = await tempDir();
    const r2 = await runCli(['check', dir]);
    assert.equal(r2.code, 1);
    assert.match(r2.err, /cannot read config file .*: EISDIR/);
  });

  it('refuses YAML with a repeated key instead of silently keeping the last value', async () => {
    const file = await writeTemp('behalf.yaml', VALID.replace('server: {', 'server: { publicUrl: "https://evil.example" }\nserver: {'));
    const r = await runCli(['check', file], { HR_URL: 'http://127.0.0.1:9001' });
    assert.equal(r.code, 1);
    assert.match(r.err, /unique/i);
  });
});

const HR_CONFIG = join(HR_DEMO_DIR, 'behalf.yaml');
const HR_CASES = join(HR_DEMO_DIR, 'policy-cases.yaml');

describe('behalf policy test with the HR demo', () => {
  let env: Record<string, string>;
  let casesText: string;
  before(async () => {
    // The demo config takes its URLs and state folder from the environment; `policy test` starts
    // nothing and contacts nothing, so any values that pass validation will do.
    env = {
      BEHALF_PORT_NUMBER: '8080',
      BEHALF_PUBLIC_URL: 'http://127.0.0.1:8080',
      DEMO_IDP_URL: 'http://127.0.0.1:9000',
      DEMO_HR_URL: 'http://127.0.0.1:9001',
      DEMO_STATE_DIR: await tempDir(),
    };
    casesText = await readFile(HR_CASES, 'utf8');
  });

  it('examples/hr-demo/policy-cases.yaml passes: one PASS line per case, "N passed, 0 failed", exit 0', async () => {
    const names = (parse(casesText) as { cases: { name: string }[] }).cases.map((c) => c.name);
    assert.ok(names.length >= 10);
    const r = await runCli(['policy', 'test', '--config', HR_CONFIG, HR_CASES], env);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.equal(lines.at(-1), `${names.length} passed, 0 failed`);
    assert.deepEqual(
      lines.slice(0, -1).map((l) => /^PASS {2}(.+?) {2}\(/.exec(l)?.[1]),
      names,
    );
    assert.match(r.out, /^PASS {2}Alice reads the review of Bob, who reports to her {2}\(allow, allowed-by-rule, rule manager-reads-reports\)$/m);
    assert.match(r.out, /^PASS {2}Mallory cannot read Bob's review \(another department\) {2}\(deny, denied-by-rule, rule no-cross-department\)$/m);
    assert.match(r.out, /^PASS {2}Bob cannot read the review of Carol, a peer {2}\(deny, no-matching-rule\)$/m);
  });

  it('one wrong expectation fails the run: a FAIL line saying what differs, the count, exit 1', async () => {
    const wrong = casesText.replace(
      'expect: { decision: deny, reason: denied-by-rule, rule: no-cross-department }',
      'expect: { decision: allow }',
    );
    assert.notEqual(wrong, casesText);
    const file = await writeTemp('cases.yaml', wrong);
    const total = (parse(wrong) as { cases: unknown[] }).cases.length;
    const r = await runCli(['policy', 'test', '--config', HR_CONFIG, file], env);
    assert.equal(r.code, 1);
    const fails = r.out.split('\n').filter((l) => l.startsWith('FAIL'));
    assert.deepEqual(fails, [
      "FAIL  Mallory cannot read Bob's review (another department): decision: expected allow, got deny  (got deny, denied-by-rule, rule no-cross-department)",
    ]);
    assert.equal(r.out.split('\n').at(-1), `${total - 1} passed, 1 failed`);
    assert.match(r.err, /1 policy case\(s\) failed/);
  });

  it('runs as the README shows it, with none of the config\'s ${ENV} variables set (it reads no URL, key or store)', async () => {
    const r = await runCli(['policy', 'test', '--config', HR_CONFIG, HR_CASES], {});
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^\d+ passed, 0 failed$/m);
    assert.equal(r.err, '');
  });

  it('a cases file with a mistake is refused with the path of the mistake', async () => {
    const file = await writeTemp('cases.yaml', casesText.replace('reason: no-matching-rule', 'reason: no-such-reason'));
    const r = await runCli(['policy', 'test', '--config', HR_CONFIG, file], env);
    assert.equal(r.code, 1);
    assert.match(r.err, /^cases\[\d+\]\.expect\.reason: not a known reason code/m);
  });

  it('--config is required: a usage error, exit 2', async () => {
    const r = await runCli(['policy', 'test', HR_CASES], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /--config/);
  });
});

describe('behalf schema', () => {
  it('prints the config JSON Schema: parseable, with the top-level sections an editor completes', async () => {
    const r = await runCli(['schema']);
    assert.equal(r.code, 0, r.err);
    const schema = JSON.parse(r.out) as { $schema?: string; type?: string; properties?: Record<string, unknown>; required?: string[] };
    assert.match(schema.$schema ?? '', /json-schema\.org/);
    assert.equal(schema.type, 'object');
    for (const key of ['server', 'issuers', 'routes', 'policies', 'directory', 'signing', 'audit']) {
      assert.ok(schema.properties?.[key] !== undefined, `properties.${key}`);
    }
    assert.ok(schema.required?.includes('issuers'), 'issuers is required, as in the config schema');
  });

  it('--out writes the same schema to a file and prints nothing', async () => {
    const file = join(await tempDir(), 'behalf.schema.json');
    const r = await runCli(['schema', '--out', file]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '');
    const printed = await runCli(['schema']);
    assert.equal(await readFile(file, 'utf8'), `${printed.out}\n`);
  });
});

describe('usage errors exit 2 with a message; help and version exit 0', () => {
  for (const [args, message] of [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['check', '--strict', 'x.yaml'], /unknown option '--strict'/],
    [['check'], /missing required argument 'file'/],
    [['serve', '--config'], /option '-c, --config <file>' argument missing/],
    [['policy', 'test', 'cases.yaml'], /required option '-c, --config <file>' not specified/],
    [[], /Usage: behalf/],
    [['audit', 'query', '--store', '/nonexistent', '--since', '2025-05-02', '--until', '2025-05-01'], /--since must be before --until/],
  ] as const) {
    it(`behalf ${args.join(' ') || '(nothing)'}`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${r.out}\n${r.err}`);
      assert.match(r.err, message);
      assert.equal(r.out, '');
    });
  }

  it('a fault is not a usage error: "code: message" and exit 1', async () => {
    const r = await runCli(['audit', 'verify', '--store', join(await tempDir(), 'missing')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^audit-read-failed: no audit store at /);
  });

  it('--help lists every command', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const command of ['serve', 'check', 'schema', 'audit', 'policy']) assert.match(r.out, new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_DIR, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.out, pkg.version);
  });
});
