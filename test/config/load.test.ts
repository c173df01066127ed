import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/json-schema.js';

const minimal = `
server:
  publicUrl: https://gw.example.test
issuers:
  - id: idp
    issuer: https://idp.example.test/
    audience: https://gw.example.test
`;

function problemsOf(text: string, env: Record<string, string> = {}): string[] {
  const r = parseConfigText(text, env);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

test('a minimal config gets every default and is frozen', () => {
  const r = parseConfigText(minimal, {});
  assert.ok(r.ok);
  assert.equal(r.config.server.port, 8080);
  assert.deepEqual(r.config.issuers[0]?.algorithms, ['RS256', 'PS256', 'ES256', 'EdDSA']);
  assert.equal(r.config.issuers[0]?.clockSkewSeconds, 60);
  assert.equal(r.config.signing.algorithm, 'ES256');
  assert.ok(Object.isFrozen(r.config) && Object.isFrozen(r.config.issuers[0]));
  assert.throws(() => {
    (r.config.server as { port: number }).port = 1;
  }, TypeError);
});

test('every problem is reported with its path', () => {
  const problems = problemsOf(`${minimal}
routes:
  - { id: a, path: /api/a, upstream: https://a.internal }
  - { id: b, path: api/b, upstream: ftp://b.internal, extra: 1 }
  - { id: a, path: /api/c, upstream: https://user:pw@c.internal }
policies:
  - { id: p, effect: maybe, match: { routes: [nope] } }
`);
  assert.ok(problems.includes('routes[1].path: must start with "/" and hold no query, fragment or spaces'), problems.join('\n'));
  assert.ok(problems.includes('routes[1].upstream: must be an http(s) URL without credentials'));
  assert.ok(problems.includes('routes[1]: unknown key(s): extra'));
  assert.ok(problems.includes('routes[2].upstream: must be an http(s) URL without credentials'));
  assert.ok(problems.some((p) => p.startsWith('policies[0].effect:')));
  assert.ok(problems.length >= 5);
});

test('HMAC and none are not accepted as IdP algorithms', () => {
  const problems = problemsOf(minimal.replace('audience: https://gw.example.test', 'audience: x\n    algorithms: [HS256, none]'));
  assert.ok(problems.some((p) => p.startsWith('issuers[0].algorithms[0]:')));
  assert.ok(problems.some((p) => p.startsWith('issuers[0].algorithms[1]:')));
});

test('${ENV} is interpolated; a missing variable is named with its path', () => {
  const text = `${minimal}
routes:
  - id: hr
    path: /api/hr
    upstream: \${HR_URL}
    identityHeaders: { X-Api-Key: "\${HR_KEY}", X-Price: "$$5" }
`;
  const ok = parseConfigText(text, { HR_URL: 'http://hr.internal:8000/v1', HR_KEY: 'k' });
  assert.ok(ok.ok);
  assert.equal(ok.config.routes[0]?.upstream, 'http://hr.internal:8000/v1');
  assert.equal(ok.config.routes[0]?.identityHeaders['X-Price'], '$5');
  assert.deepEqual(problemsOf(text, { HR_URL: 'http://x' }), ['routes[0].identityHeaders.X-Api-Key: environment variable HR_KEY is not set']);
});

test('an env value cannot inject YAML structure', () => {
  const r = parseConfigText(`${minimal.replace('id: idp', 'id: "${ID}"')}`, { ID: 'x\nextra: 1' });
  assert.ok(!r.ok);
  assert.ok(r.problems.some((p) => p.path === 'issuers[0].id'));
});

test('YAML syntax errors and duplicate keys are reported with line and column, not thrown', () => {
  assert.deepEqual(problemsOf('server:\n  port: 1\n  port: 2\n'), ['line 3, column 3: Map keys must be unique']);
  const cascade = problemsOf(`server: [\n${'  - a: {\n'.repeat(40)}`);
  assert.ok(cascade.length >= 1 && cascade.length <= 6, cascade.join('\n'));
  assert.match(cascade[0] ?? '', /^line \d+, column \d+: /);
});

test('cross references: unknown issuer on a route, unknown route in a policy, duplicate ids', () => {
  const problems = problemsOf(`${minimal}
routes:
  - { id: hr, path: /api/hr, upstream: http://hr, issuers: [other] }
policies:
  - { id: p, effect: allow, match: { routes: [nope] } }
  - { id: p, effect: allow }
`);
  assert.ok(problems.includes('routes[0].issuers[0]: unknown issuer "other"'), problems.join('\n'));
  assert.ok(problems.includes('policies[0].match.routes[0]: unknown route "nope"'));
  assert.ok(problems.includes('policies[1].id: duplicate id "p"'));
});

test('loadConfigFile throws a ConfigError listing every problem; a missing file is a read error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'behalf-config-'));
  const file = join(dir, 'behalf.yaml');
  await writeFile(file, 'server: {}\nissuers: []\n');
  await assert.rejects(loadConfigFile(file, {}), (err: unknown) => err instanceof ConfigError && err.problems.length === 2);
  await assert.rejects(loadConfigFile(join(dir, 'missing.yaml'), {}), { code: 'config-read-failed' });
  await writeFile(file, minimal);
  const loaded = await loadConfigFile(file, {});
  assert.equal(loaded.baseDir, dir);
});

test('the JSON Schema is generated from the same schema', () => {
  const schema = configJsonSchema() as { properties: Record<string, unknown>; required: string[] };
  assert.ok('server' in schema.properties && 'routes' in schema.properties && 'policies' in schema.properties);
  assert.deepEqual(schema.required.sort(), ['issuers', 'server']);
});

test('audit.checkpoints: on by default every 1 000 records or 60 s; the webhook must be an http(s) URL; revocation.store takes a file, memory or Redis', () => {
  const r = parseConfigText(minimal, {});
  assert.ok(r.ok);
  assert.deepEqual(r.config.audit.checkpoints, { enabled: true, everyRecords: 1_000, everySeconds: 60 });
  assert.equal(r.config.revocation.store, '.behalf/revocations.json');
  const withAudit = (audit: string) => problemsOf(`${minimal}audit:\n${audit}`);
  assert.deepEqual(withAudit('  checkpoints: { webhook: "https://siem.example.test/hook?key=x" }\n'), []);
  assert.deepEqual(withAudit('  checkpoints: { webhook: "ftp://siem.example.test/" }\n'), ['audit.checkpoints.webhook: must be an http(s) URL']);
  assert.deepEqual(withAudit('  checkpoints: { everyRecords: 0 }\n'), ['audit.checkpoints.everyRecords: Too small: expected number to be >=1']);
  const withRevocation = (store: string) => problemsOf(`${minimal}revocation:\n  store: ${JSON.stringify(store)}\n`);
  for (const ok of ['memory', 'redis://127.0.0.1:6379/0', 'file:/var/lib/behalf/revocations.json', 'state/revocations.json']) assert.deepEqual(withRevocation(ok), [], ok);
  assert.deepEqual(withRevocation('s3://bucket/revocations.json'), ['revocation.store: must be a file path, file:<path>, "memory" or a redis:// URL']);
});
