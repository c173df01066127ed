import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { connectAs, startDoorEnv, type DoorEnv } from '../mcp/door/harness.js';
import { startHostileUpstream, type HostileUpstream } from './hostile-upstream.js';

// Issue 11 §2: one user's broken upstream call must not take the upstream away from everyone.
// Mallory keeps calling tools whose upstream handler sends the SSE response head and then cuts
// the socket; Bob calls a healthy tool of the same upstream, over the same shared upstream
// session, many times and concurrently. Bob sees no failure, Mallory's calls fail as upstream
// errors and are audited as such, and the upstream's circuit stays closed. When the whole
// upstream is really down, the circuit opens (calls fail at once, audited as such), and it closes
// again once the upstream is back. Counts and outcomes only: no timing is asserted.

const HOSTILE_CALLS = 30;
const NORMAL_MIN_CALLS = 300;
const NORMAL_CONCURRENCY = 8;

let env: DoorEnv;
let upstream: HostileUpstream;
let mallory: Client;
let bob: Client;

before(async () => {
  upstream = await startHostileUpstream();
  env = await startDoorEnv(
    {
      upstreams: [{ id: 'up', url: upstream.url, pinning: 'off', timeoutMs: 5_000, circuit: { failures: 3, openMs: 50, maxOpenMs: 200 } }],
      policies: [{ id: 'anyone', effect: 'allow', match: { tools: ['up.lookup', 'up.explode', 'up.explode_rst'] } }],
    },
    { configured: true },
  );
  mallory = (await connectAs(env, 'mallory')).client;
  bob = (await connectAs(env, 'bob')).client;
  await until(async () => (await bob.listTools()).tools.some((t) => t.name === 'up.lookup'), 'the upstream tools to be listed');
});

after(async () => {
  await mallory?.close();
  await bob?.close();
  await env?.close();
  await upstream?.stop();
});

/** Polls `cond` every 20 ms until it holds; fails after 10 s (a bound for a stuck test, not a measurement). */
async function until(cond: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One sample of a metric from the gateway's `/metrics`, for upstream `up` (0 when absent). */
async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${env.publicUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{upstream="up"} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  const first = (result.content as { type: string; text?: string }[] | undefined)?.[0];
  return first?.type === 'text' ? (first.text ?? '') : '';
}

/** The final record of each of `user`'s calls of `tool` (a call that may change data also has an intent before it). */
async function recordsOf(user: string, tool: string): Promise<StoredAuditRecord[]> {
  return (await env.auditRecords()).filter((r) => r.user === user && r.tool === tool && r.phase !== 'intent');
}

describe('a hostile upstream tool next to a healthy one on the same upstream', () => {
  it('fails only the hostile calls: 0 failed calls for the normal caller, no reconnection, the circuit stays closed', async () => {
    const sessionsBefore = upstream.sessionsOpened;
    const hostile: { tool: string; isError: boolean; text: string }[] = [];
    let hostileDone = false;
    const hostileLoop = (async () => {
      try {
        for (let i = 0; i < HOSTILE_CALLS; i++) {
          const tool = i % 3 === 2 ? 'up.explode_rst' : 'up.explode';
          const result = await mallory.callTool({ name: tool, arguments: {} });
          hostile.push({ tool, isError: result.isError === true, text: textOf(result) });
        }
      } finally {
        hostileDone = true;
      }
    })();

    let normalCalls = 0;
    const normalFailures: string[] = [];
    // Each worker keeps calling until Mallory is done and Bob made enough calls: Bob's calls
    // surround every hostile call, however fast either side is.
    const worker = async () => {
      while (!hostileDone || normalCalls < NORMAL_MIN_CALLS) {
        const n = ++normalCalls;
        try {
          const result = await bob.callTool({ name: 'up.lookup', arguments: { employee: `e${n}` } });
          if (result.isError === true || textOf(result) !== `found e${n}`) normalFailures.push(`call ${n}: ${JSON.stringify(result.content)}`);
        } catch (err) {
          normalFailures.push(`call ${n}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all([hostileLoop, ...Array.from({ length: NORMAL_CONCURRENCY }, worker)]);

    assert.deepEqual(normalFailures, [], `${normalFailures.length} of Bob's ${normalCalls} calls failed`);
    assert.ok(normalCalls >= NORMAL_MIN_CALLS);
    assert.equal(upstream.calls['lookup'], normalCalls, 'every one of Bob\'s calls reached the upstream once');

    assert.equal(hostile.length, HOSTILE_CALLS);
    for (const h of hostile) {
      assert.equal(h.isError, true, `${h.tool}: a broken answer must be an error result`);
      // A FIN after the head: the answer broke. A RST may also discard the head before the
      // gateway reads it: then the call could not reach the upstream, and says so.
      if (h.tool === 'up.explode') assert.equal(h.text, 'upstream error');
      else assert.ok(h.text === 'upstream error' || h.text === 'upstream unavailable', h.text);
    }
    assert.equal((upstream.calls['explode'] ?? 0) + (upstream.calls['explode_rst'] ?? 0), HOSTILE_CALLS, 'hostile tools are not annotated safe to repeat: never sent twice');

    assert.equal(upstream.sessionsOpened, sessionsBefore, 'the shared upstream session was never dropped and re-opened');
    assert.equal(await metric('behalf_upstream_circuit_opens_total'), 0, 'one caller\'s broken calls never open the circuit');
    assert.equal(await metric('behalf_upstream_circuit_open'), 0);

    // The audit trail tells what happened to each call, and to whom.
    await until(async () => (await recordsOf('mallory', 'up.explode')).length + (await recordsOf('mallory', 'up.explode_rst')).length === HOSTILE_CALLS, 'every hostile call audited');
    const fin = await recordsOf('mallory', 'up.explode');
    assert.equal(fin.length, (HOSTILE_CALLS * 2) / 3);
    for (const r of fin) {
      assert.equal(r.decision, 'deny');
      assert.equal(r.reason, 'upstream-error');
      assert.equal(r.resultError, true);
      assert.match(r.detail ?? '', /^upstream up broke its answer to the call \(/);
    }
    for (const r of await recordsOf('mallory', 'up.explode_rst')) {
      assert.equal(r.decision, 'deny');
      assert.ok(r.reason === 'upstream-error' || r.reason === 'upstream-unavailable', r.reason);
      assert.match(r.detail ?? '', r.reason === 'upstream-error' ? /broke its answer/ : /^upstream up unavailable: (?!circuit open)/);
    }
    await until(async () => (await recordsOf('bob', 'up.lookup')).length === normalCalls, 'every normal call audited');
    const bobs = await recordsOf('bob', 'up.lookup');
    assert.deepEqual([...new Set(bobs.map((r) => `${r.decision} ${r.reason}`))], ['allow allowed-by-rule']);
  });

  it('opens the circuit when the whole upstream is down, fails calls at once meanwhile, and closes it when the upstream is back', async () => {
    await upstream.stop();
    // Bob's calls now fail as "upstream unavailable" until the failed checks open the circuit.
    let attempts = 0;
    await until(async () => {
      attempts++;
      const result = await bob.callTool({ name: 'up.lookup', arguments: { employee: 'down' } });
      assert.equal(result.isError, true, 'a call to a stopped upstream cannot succeed');
      assert.equal(textOf(result), 'upstream unavailable');
      return (await metric('behalf_upstream_circuit_open')) === 1;
    }, 'the circuit to open');
    assert.equal(await metric('behalf_upstream_circuit_opens_total'), 1);

    // While open, a call is refused without reaching for the upstream, and its record says why.
    const before = (await recordsOf('bob', 'up.lookup')).length;
    const refused = await bob.callTool({ name: 'up.lookup', arguments: { employee: 'while-open' } });
    assert.equal(refused.isError, true);
    assert.equal(textOf(refused), 'upstream unavailable');
    await until(async () => (await recordsOf('bob', 'up.lookup')).length > before, 'the refused call audited');
    const records = await recordsOf('bob', 'up.lookup');
    const fastFailures = records.slice(before).filter((r) => /^upstream up unavailable: circuit open \(/.test(r.detail ?? ''));
    assert.ok(fastFailures.length >= 1, `a call while open is audited as failing on the open circuit: ${records.slice(before).map((r) => r.detail).join('; ')}`);
    for (const r of fastFailures) assert.equal(r.reason, 'upstream-unavailable');
    assert.ok(attempts >= 1);

    // Back up: a trial connection closes the circuit, and calls go through again.
    await upstream.start();
    await until(async () => (await metric('behalf_upstream_circuit_open')) === 0, 'the circuit to close');
    const back = await bob.callTool({ name: 'up.lookup', arguments: { employee: 'back' } });
    assert.notEqual(back.isError, true, JSON.stringify(back.content));
    assert.equal(textOf(back), 'found back');
    assert.equal(await metric('behalf_upstream_circuit_opens_total'), 1, 'it opened once for the one outage');
  });
});
