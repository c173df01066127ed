import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { launchDemo, type Demo } from '../../examples/hr-demo/launch.js';
import { findRunningStack, STACK_FILE, stackOf, writeStackFile } from '../../examples/hr-demo/stack.js';
import { runWalkthrough, WALKTHROUGH_CLIENT, type Row } from '../../examples/hr-demo/walkthrough.js';
import { openAuditStore } from '../../src/audit/auditor.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';

// `npm run demo` runs against the `npm start` stack when one is running (so its requests are in
// the trail the user tails), else against its own and says so first. Both ways are run here,
// in-process, with the demo's own launcher standing in for `npm start`.

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'behalf-walkthrough-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function records(stateDir: string): Promise<StoredAuditRecord[]> {
  const store = await openAuditStore({ store: join(stateDir, 'audit') }, { baseDir: stateDir, readOnly: true });
  const out: StoredAuditRecord[] = [];
  for await (const r of store.query({})) out.push(r);
  await store.close();
  return out;
}

const rowOf = (rows: Row[], label: string): Row => {
  const row = rows.find((r) => r.label === label);
  assert.ok(row, `a row "${label}"`);
  return row;
};

/** What every run shows, whichever stack it ran against. */
function assertStory(rows: Row[]): void {
  assert.match(rowOf(rows, 'Alice: "show my team\'s reviews"').before, /^200 \d+ review\(s\): alice, bob, carol, mallory$/);
  assert.match(rowOf(rows, 'Alice: "show my team\'s reviews"').after, /^200 \d+ review\(s\): alice, bob, carol$/);
  // The spoof row: a backend that believes the header hands Mallory Alice's view; through behalf
  // the header is stripped and the backend learns from the assertion that the caller is Mallory.
  const spoof = rowOf(rows, 'Mallory sends X-User-Id: alice');
  assert.equal(spoof.before, '200 3 review(s): alice, bob, carol: believed the header');
  assert.equal(spoof.after, '200 1 review(s): mallory: header stripped, backend saw mallory');
  assert.equal(rowOf(rows, 'Expired token').after, '401 token-expired');
  assert.equal(rowOf(rows, 'Forged token (attacker key)').after, '401 token-invalid');
  assert.equal(rowOf(rows, 'Alice adds a review for Bob').after, '403 approval-required: waits for Dana');
  assert.equal(rowOf(rows, 'Dana approves; Alice sends it again').after, '201 review added');
}

describe('npm run demo with npm start running', () => {
  let demo: Demo;
  let stateDir: string;
  before(async () => {
    stateDir = join(dir, 'start');
    demo = await launchDemo({ stateDir, logger: pino({ level: 'silent' }), idpLog: () => undefined });
    await writeStackFile(stackOf(demo));
  });
  after(async () => {
    await demo.close();
  });

  it('runs against that stack: it says so first, and every request is in that stack\'s trail', async () => {
    const before = (await records(stateDir)).length;
    const lines: string[] = [];
    const run = await runWalkthrough({ startStateDir: stateDir, ownStateDir: join(dir, 'unused'), print: (l) => lines.push(l) });
    assert.equal(run.shared, true);
    assert.match(lines[0]!, /^behalf demo: running against the `npm start` stack \(gateway http:\/\/127\.0\.0\.1:\d+,/);
    assertStory(run.rows);

    const mine = (await records(stateDir)).slice(before).filter((r) => r.client === WALKTHROUGH_CLIENT);
    // 8 requests with a valid token (the two with an expired or forged one name no client): Alice's
    // review held for approval, then sent again once Dana approved (a POST with its intent
    // record). Dana's decision is a record of the admin door, by client admin-api.
    assert.equal(mine.length, 9, mine.map((r) => `${r.method} ${r.path} ${r.status}`).join('\n'));
    const decision = (await records(stateDir)).slice(before).find((r) => r.reason === 'approval-granted');
    assert.equal(decision?.user, 'dana');
    assert.ok(mine.some((r) => r.user === 'mallory' && r.method === 'GET' && r.decision === 'allow'));
    assert.ok(lines.some((l) => /demo-walkthrough\s+GET \/api\/hr\/reviews/.test(l)), 'the printed trail shows its records');
    assert.ok(lines.includes('audit trail OK: ' + String((await records(stateDir)).length) + ' records'), lines.slice(-3).join('\n'));
  });
});

describe('npm run demo without npm start', () => {
  it('starts its own stack and says so in its first line, with no second dev IdP line; its trail is its own', async () => {
    const ownStateDir = join(dir, 'own');
    const lines: string[] = [];
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      stderr.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    let run: Awaited<ReturnType<typeof runWalkthrough>>;
    try {
      run = await runWalkthrough({ startStateDir: join(dir, 'no-start'), ownStateDir, print: (l) => lines.push(l) });
    } finally {
      process.stderr.write = write;
    }
    assert.equal(run.shared, false);
    assert.match(lines[0]!, /^behalf demo: no `npm start` stack is running \(nothing recorded in .*stack\.json\), so this walkthrough starts its OWN/);
    assert.doesNotMatch(stderr.join(''), /dev IdP/);
    assertStory(run.rows);
    assert.equal((await records(ownStateDir)).filter((r) => r.client === WALKTHROUGH_CLIENT).length, 9);
  });
});

describe('finding the npm start stack', () => {
  it('ignores a stack.json whose process is gone, whose gateway does not answer, or that names no stack', async () => {
    const stateDir = join(dir, 'stale');
    await mkdir(stateDir, { recursive: true });
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const nobody = 'http://127.0.0.1:1';
    const stack = { pid: gone, gatewayUrl: nobody, idpUrl: nobody, idpIssuer: nobody, hrUrl: nobody, stateDir };
    await writeStackFile(stack);
    const dead = await findRunningStack(stateDir);
    assert.equal(dead.stack, undefined);
    assert.match((dead as { why: string }).why, new RegExp(`the process ${gone} named in .*${STACK_FILE} is gone`));

    await writeStackFile({ ...stack, pid: process.pid });
    const silent = await findRunningStack(stateDir, 500);
    assert.equal(silent.stack, undefined);
    assert.match((silent as { why: string }).why, /no gateway answering at http:\/\/127\.0\.0\.1:1/);

    await writeFile(join(stateDir, STACK_FILE), '{"pid": "not a stack"}');
    assert.match(((await findRunningStack(stateDir)) as { why: string }).why, /nothing recorded in/);
  });
});
