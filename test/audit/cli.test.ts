import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore, readLinesOf, rec, tempDir, writeLines, writeTrail, runAuditCli } from './helpers.js';

const run = runAuditCli;

async function trail(n = 10): Promise<string> {
  const dir = join(await tempDir(), 'audit');
  await writeTrail(dir, n);
  return dir;
}

test('audit tail prints the newest N records, one readable line each, oldest first', async () => {
  const dir = await trail();
  const r = await run(['audit', 'tail', '-n', '3', '--store', dir]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.length, 3);
  assert.match(r.out[0]!, /^2025-05-01T10:00:08\.000Z\s+mallory\s+chatgpt\s+GET \/api\/hr\/reviews\/mallory\s+deny\s+denied-by-rule\s+no-cross-department\s+403\s+13ms$/);
  assert.match(r.out[2]!, /10:00:10.*bob.*allow.*allowed-by-rule.*200/);
});

test('audit tail escapes control characters a token could smuggle into a user id', async () => {
  const dir = join(await tempDir(), 'audit');
  const store = await openStore(dir);
  await store.append([rec(1, { user: 'evil\u001b[2J\nroot' })]);
  await store.close();
  const r = await run(['audit', 'tail', '--store', dir]);
  assert.equal(r.out.length, 1);
  assert.ok(!r.out[0]!.includes('\u001b') && r.out[0]!.includes('evil\\x1b[2J\\x0aroot'), r.out[0]);
});

test('audit query filters, reads the store from --config, and prints JSON Lines with --json', async () => {
  const base = await tempDir();
  await writeTrail(join(base, 'state', 'audit'), 12);
  const config = join(base, 'behalf.yaml');
  await writeFile(
    config,
    ['server: { publicUrl: "https://gw.example" }', 'issuers: [{ id: idp, issuer: "https://idp.example", audience: gw }]', 'audit: { store: "file:state/audit" }', ''].join('\n'),
  );
  const human = await run(['audit', 'query', '--config', config, '--user', 'mallory', '--decision', 'deny', '--since', '2025-05-01T10:00:05Z']);
  assert.equal(human.code, 0, human.err);
  assert.match(human.out[0]!, /^TIME\s+USER\s+CLIENT\s+REQUEST\s+DECISION\s+REASON\s+RULE\s+STATUS\s+LATENCY$/);
  assert.equal(human.out.length, 3);
  const json = await run(['audit', 'query', '--config', config, '--decision', 'allow', '--limit', '2', '--json']);
  assert.deepEqual(json.out.map((l) => JSON.parse(l).seq), [10, 11]);
  const none = await run(['audit', 'query', '--config', config, '--user', 'nobody']);
  assert.equal(none.code, 0);
  assert.deepEqual(none.out, []);
  assert.match(none.err, /no matching audit records/);
});

test('bad flag values are usage errors: exit 2 with a message naming the flag', async () => {
  const dir = await trail(1);
  for (const [args, flag] of [
    [['--since', '3x'], /--since.*duration/],
    [['--until', '2025-02-30'], /--until/],
    [['--decision', 'maybe'], /--decision/],
    [['--limit', '0'], /--limit/],
    [['--user', ''], /--user/],
    [['--since', '2025-05-02', '--until', '2025-05-01'], /before --until/],
  ] as const) {
    const r = await run(['audit', 'query', '--store', dir, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, flag);
  }
});

test('audit verify: OK exits 0; an edited record exits 1 naming seq, file:line and kind', async () => {
  const dir = await trail();
  const ok = await run(['audit', 'verify', '--store', dir]);
  assert.equal(ok.code, 0);
  assert.deepEqual(ok.out, ['audit trail OK: 10 records']);
  const file = join(dir, 'segment-0000000000000001.jsonl');
  const lines = await readLinesOf(file);
  lines[4] = lines[4]!.replace('"status":200', '"status":404');
  await writeLines(file, lines);
  const bad = await run(['audit', 'verify', '--store', dir]);
  assert.equal(bad.code, 1);
  assert.equal(bad.out[0], 'audit trail BROKEN: edited at seq 5 at segment-0000000000000001.jsonl:5');
  assert.match(bad.err, /audit-chain-broken/);
  const json = await run(['audit', 'verify', '--store', dir, '--json']);
  assert.equal(json.code, 1);
  assert.deepEqual(JSON.parse(json.out[0]!).problem, { seq: 5, kind: 'edited', file: 'segment-0000000000000001.jsonl', line: 5, message: 'record 5 was changed after it was written: its hash does not match its content' });
});

test('a change with an intent and no outcome: verify lists it (exit 0), query --open prints it, tail shows its status as intent', async () => {
  const dir = await tempDir();
  const store = await openStore(dir);
  const change = (i: number, phase: 'intent' | 'outcome') =>
    rec(i, { requestId: `change-${i}`, method: 'POST', phase, ...(phase === 'intent' ? { status: 0 } : { status: 201 }) });
  await store.append([change(1, 'intent'), change(1, 'outcome'), change(2, 'intent'), rec(3), change(4, 'intent'), change(4, 'outcome')]);
  await store.close();
  const verified = await run(['audit', 'verify', '--store', dir]);
  assert.equal(verified.code, 0, verified.err);
  assert.deepEqual(verified.out, [
    'audit trail OK: 6 records',
    '1 change(s) with an intent but no outcome (the gateway stopped or the trail failed while the backend had them; the backend may have acted):',
    `  seq 3  ${rec(2).time}  request change-2`,
  ]);
  const json = JSON.parse((await run(['audit', 'verify', '--store', dir, '--json'])).out[0]!);
  assert.deepEqual([json.openIntentCount, json.openIntents], [1, [{ seq: 3, requestId: 'change-2', time: rec(2).time }]]);
  const open = await run(['audit', 'query', '--store', dir, '--open', '--json']);
  assert.deepEqual(open.out.map((l) => JSON.parse(l).requestId), ['change-2']);
  const tail = await run(['audit', 'tail', '--store', dir, '-n', '6']);
  assert.match(tail.out[2]!, /POST \S+ .* intent /);
  assert.match(tail.out[1]!, / 201 /);
  const refused = await run(['audit', 'query', '--store', dir, '--open', '--decision', 'allow']);
  assert.equal(refused.code, 2);
});

test('audit verify on a directory that does not exist fails instead of reporting an empty trail', async () => {
  const r = await run(['audit', 'verify', '--store', join(await tempDir(), 'missing')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /audit-read-failed: no audit store/);
});
