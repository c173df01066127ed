import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, runCli, tempDir } from './helpers.js';

/**
 * `behalf check` finds rules that can never apply (tools that do not exist, paths outside their
 * route, an allow rule a deny rule shadows) and reports every problem of a file in one run, each
 * with its config path, whatever layer it comes from.
 */

after(cleanup);

const HEAD = `
server: { publicUrl: "https://gw.example" }
issuers:
  - { id: idp, issuer: "https://idp.example", audience: "https://gw.example", jwksUri: "https://idp.example/jwks" }
signing: { keyFile: state/signing-keys.json }
mcp: {}
routes:
  - { id: hr, path: /api/hr, upstream: "http://127.0.0.1:9001/v1" }
tools:
  - { name: get_reviews, call: { route: hr, path: /reviews } }
  - { name: hr_root, call: { route: hr, path: "" } }
upstreams:
  - { id: everything, url: "http://127.0.0.1:9002/mcp" }
  - { id: wiki, url: "http://127.0.0.1:9003/mcp" }
`;

/** A config folder with `behalf.yaml` and, when `pinned` is given, the pins of upstream `everything`. */
async function configDir(policies: string, pinned?: readonly string[]): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, 'behalf.yaml'), `${HEAD}${policies}`);
  if (pinned !== undefined) {
    await mkdir(join(dir, 'state'));
    const entry = { upstream: 'everything', hash: 'a'.repeat(64), pinnedAt: '2025-01-01T00:00:00Z', definition: {} };
    await writeFile(join(dir, 'state', 'tool-pins.json'), JSON.stringify({ version: 1, tools: Object.fromEntries(pinned.map((n) => [n, entry])) }));
  }
  return join(dir, 'behalf.yaml');
}

const FOURTEEN = Array.from({ length: 14 }, (_, i) => `everything.tool_${i}`);

describe('behalf check: rules that can never apply', () => {
  it('every problem in one run with its path: unknown namespace, misspelled tool, path outside the prefix, shadowed allow', async () => {
    const file = await configDir(
      `
policies:
  - id: managers-everything
    effect: allow
    match: { tools: ["evrything.*"] }
    roles: [manager]
  - id: reviews
    effect: allow
    match: { tools: [get_reveiws] }
  - id: wrong-prefix
    effect: allow
    match: { routes: [hr], paths: ["/api/payroll/:employee"] }
  - id: freeze-hr
    effect: deny
    match: { routes: [hr] }
  - id: read-hr
    effect: allow
    match: { routes: [hr], methods: [GET], paths: ["/api/hr/reviews/:employee"] }
  - id: unknown-upstream-tool
    effect: allow
    match: { tools: [payroll.get_salary] }
`,
      FOURTEEN,
    );
    const r = await runCli(['check', file]);
    assert.equal(r.code, 1, r.err);
    assert.equal(r.out, '');
    const lines = r.err.split('\n');
    const line = (prefix: string) => lines.find((l) => l.startsWith(prefix)) ?? assert.fail(`no line "${prefix}..." in:\n${r.err}`);
    assert.match(line('policies[0].match.tools[0]: '), /pattern "evrything\.\*" matches no tool: no upstream "evrything" \(upstream namespaces: everything, wiki\)/);
    assert.match(line('policies[1].match.tools[0]: '), /"get_reveiws" is no tool: not a config tool.*; did you mean "get_reviews"\?/);
    assert.match(line('policies[2].match.paths[0]: '), /"\/api\/payroll\/:employee" is outside the path of route hr \/api\/hr, so it never matches/);
    assert.match(line('policies[5].match.tools[0]: '), /no upstream "payroll"/);
    assert.match(line('warning: policies[4]: '), /allow rule "read-hr" never allows anything: deny rule "freeze-hr" \(policies\[3\]\) has no condition/);
    assert.match(line('warning: policies[2]: '), /allow rule "wrong-prefix" never allows anything: deny rule "freeze-hr"/, 'dead twice over');
    assert.equal(lines.at(-1), `${file}: 4 problem(s), 2 warning(s)`);
  });

  it('the issue\'s "everything.*": fine when upstream everything has pinned tools; a note when it has none; an error when it does not exist', async () => {
    const rule = `
policies:
  - id: managers-everything
    effect: allow
    match: { tools: ["everything.*"] }
    roles: [manager]
`;
    const pinned = await runCli(['check', await configDir(rule, FOURTEEN)]);
    assert.equal(pinned.code, 0, pinned.err);
    assert.equal(pinned.err, '');

    const unpinnedFile = await configDir(rule);
    const unpinned = await runCli(['check', unpinnedFile]);
    assert.equal(unpinned.code, 0, 'a note does not fail the check');
    assert.equal(unpinned.out, `${unpinnedFile}: OK`);
    assert.match(unpinned.err, /^note: policies\[0\]\.match\.tools\[0\]: "everything\.\*" cannot be checked offline: upstream "everything" has no pinned tools/m);

    const gone = await runCli(['check', await configDir(rule.replace('everything.*', 'everythin.*'), FOURTEEN)]);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /^policies\[0\]\.match\.tools\[0\]: pattern "everythin\.\*" matches no tool: no upstream "everythin"/m);
  });

  it('a name of a pinned upstream must be one of its pinned tools; limits.rules are checked too', async () => {
    const file = await configDir(
      `
policies:
  - { id: one, effect: allow, match: { tools: [everything.tool_3, everything.tool_33] } }
limits:
  rules:
    - { id: l, match: { tools: [everything.tol_1] }, concurrency: 2 }
`,
      FOURTEEN,
    );
    const r = await runCli(['check', file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^policies\[0\]\.match\.tools\[1\]: "everything\.tool_33" is no tool: not a config tool nor a pinned tool of upstream "everything"/m);
    assert.match(r.err, /^limits\.rules\[0\]\.match\.tools\[0\]: "everything\.tol_1" is no tool: .*did you mean "everything\.tool_1"\?/m);
    assert.doesNotMatch(r.err, /tools\[0\]: "everything\.tool_3"/);
  });

  it('paths: a rule without routes must be under some route; a tools rule\'s path is the MCP endpoint\'s', async () => {
    const file = await configDir(`
policies:
  - { id: nowhere, effect: allow, match: { paths: ["/api/payroll/*"] } }
  - { id: anywhere-under-hr, effect: allow, match: { paths: ["/:area/hr/*"] } }
  - { id: tool-path, effect: allow, match: { tools: [get_reviews], paths: ["/api/hr/reviews"] } }
  - { id: tool-on-mcp, effect: allow, match: { tools: [get_reviews], paths: ["/mcp"] } }
  - { id: the-root, effect: allow, match: { routes: [hr], paths: ["/api/hr"] } }
`);
    const r = await runCli(['check', file]);
    assert.equal(r.code, 1);
    const errors = r.err.split('\n').filter((l) => /^policies/.test(l));
    assert.equal(errors.length, 2, r.err);
    assert.match(errors[0]!, /^policies\[0\]\.match\.paths\[0\]: "\/api\/payroll\/\*" is under no route's path \(hr \/api\/hr\), so it never matches/);
    assert.match(errors[1]!, /^policies\[2\]\.match\.paths\[0\]: "\/api\/hr\/reviews" never matches: an MCP request's path is always the endpoint's \(\/mcp\)/);
  });

  it('shadowing is reported only when certain; a shadowed allow alone is a warning: exit 0, "OK (1 warning(s))"', async () => {
    const file = await configDir(`
policies:
  - { id: no-writes, effect: deny, match: { routes: [hr], methods: [POST, PUT] } }
  - { id: no-admin-tools, effect: deny, match: { tools: ["everything.admin_*"] }, roles: [contractor] }
  - { id: post-reviews, effect: allow, match: { routes: [hr], methods: [POST], paths: ["/api/hr/reviews/:employee"] }, when: "true" }
  - { id: read-reviews, effect: allow, match: { routes: [hr], methods: [GET, POST] } }
  - { id: admin-for-contractors, effect: allow, match: { tools: [everything.admin_reset] }, roles: [contractor] }
  - { id: admin-for-anyone, effect: allow, match: { tools: [everything.admin_reset] } }
`, ['everything.admin_reset']);
    const r = await runCli(['check', file]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${file}: OK (2 warning(s))`);
    const warnings = r.err.split('\n');
    assert.deepEqual(
      warnings.map((l) => /^warning: (policies\[\d\]): allow rule "([^"]+)" never allows anything: deny rule "([^"]+)"/.exec(l)?.slice(1).join(' ')),
      ['policies[2] post-reviews no-writes', 'policies[4] admin-for-contractors no-admin-tools'],
      'GET+POST is not all denied; an allow for anyone is not shadowed by a deny for contractors',
    );
  });

  it('schema, ${ENV}, condition, header-template and semantic problems all come in one run', async () => {
    const file = await configDir(`
policies:
  - { id: bad-cel, effect: allow, match: { routes: [hr] }, when: "request.params.employee == " }
  - { id: typo, effect: allow, match: { tools: [get_reveiws] } }
  - { id: outside, effect: allow, match: { routes: [hr], paths: ["/api/pay/*"] } }
`);
    // One problem of each kind in the shared head too.
    const text = (await readFile(file, 'utf8'))
      .replace('server: { publicUrl: "https://gw.example" }', 'server: { publicUrl: "https://gw.example", port: 99999 }')
      .replace('{ id: hr, path: /api/hr, upstream: "http://127.0.0.1:9001/v1" }', '{ id: hr, path: /api/hr, upstream: "http://127.0.0.1:9001/v1", identityHeaders: { X-User-Id: "{user.salary}" } }')
      .replace('{ id: wiki, url: "http://127.0.0.1:9003/mcp" }', '{ id: wiki, url: "${WIKI_URL}" }');
    await writeFile(file, text);
    const r = await runCli(['check', file]);
    assert.equal(r.code, 1);
    const lines = r.err.split('\n');
    assert.ok(lines.some((l) => l.startsWith('server.port: ')), r.err);
    assert.ok(lines.some((l) => l.startsWith('warning: upstreams[1].url: environment variable WIKI_URL is not set; checked with a placeholder value')), r.err);
    assert.ok(lines.some((l) => l.startsWith('policies[0].when: ')), r.err);
    assert.ok(lines.some((l) => /identityHeaders\.X-User-Id: unknown placeholder \{user\.salary\}/.test(l)), r.err);
    assert.ok(lines.some((l) => l.startsWith('policies[2].match.paths[0]: ')), r.err);
    // The unset URL is checked with a placeholder, so every upstream is valid and the tool names are checked too.
    assert.ok(lines.some((l) => l.startsWith('policies[1].match.tools[0]')), r.err);
  });

  it('--json: one object on stdout with every finding, its severity and path; exit code as without it', async () => {
    const file = await configDir(`
policies:
  - { id: typo, effect: allow, match: { tools: [get_reveiws] } }
  - { id: all-everything, effect: allow, match: { tools: ["everything.*"] } }
`);
    const r = await runCli(['check', '--json', file]);
    assert.equal(r.code, 1);
    assert.equal(r.err, '');
    const report = JSON.parse(r.out) as { file: string; ok: boolean; errors: number; warnings: number; notes: number; findings: { severity: string; path: string; message: string }[] };
    assert.equal(report.file, file);
    assert.equal(report.ok, false);
    assert.deepEqual([report.errors, report.warnings, report.notes], [1, 0, 1]);
    assert.deepEqual(report.findings.map((f) => `${f.severity} ${f.path}`), ['error policies[0].match.tools[0]', 'note policies[1].match.tools[0]']);
  });

  it('a tool call.path of "" (the route\'s upstream base path) is accepted', async () => {
    const file = await configDir('');
    const r = await runCli(['check', file]);
    assert.equal(r.code, 0, r.err);
  });
});
