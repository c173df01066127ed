/**
 * Fault test: the IdP's keys change or its JWKS misbehaves while a real gateway serves (issue 11
 * section 4). Real keys, real HTTP on 127.0.0.1, a real gateway; the gateway's clock is a manual
 * one where a test needs time to pass, and JWKS fetches are counted where they arrive.
 *
 * - a rotation under steady load: zero 401s for valid tokens, one extra JWKS fetch;
 * - a flood of random kids: a bounded number of JWKS fetches, valid tokens unaffected;
 * - the IdP down at start, then back: served again within minIntervalMs;
 * - the IdP replaced the key under a kid it kept: picked up by one refetch, forgeries stay 401;
 * - a slow JWKS: /readyz answers from memory before the JWKS does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { GatewayOptions } from '../../src/gateway.js';
import { aliceClaims, makeKey, startTestIdp, type TestIdp, type TestKey } from '../authenticate/test-idp.js';
import { send, type Reply } from '../e2e/bounded-client.js';
import { assertDenied, manualClock, startQuietIdp } from '../e2e/e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from '../e2e/harness.js';

let backend: RecordingBackend;
before(async () => {
  backend = await startRecordingBackend();
});
after(async () => {
  await backend.close();
});

/** A gateway routing `/api` to the recording backend for anyone `issuer` vouches for. */
async function gatewayFor(issuer: { issuer: string; audience: string; jwksRefetch?: { minIntervalMs?: number; perMinute?: number } }, opts: GatewayOptions = {}): Promise<TestGateway> {
  const port = await freePort();
  return startTestGateway(
    {
      server: { port, publicUrl: `http://127.0.0.1:${port}` },
      issuers: [{ id: 'idp', ...issuer }],
      routes: [{ id: 'api', path: '/api', upstream: backend.url }],
      policies: [{ id: 'anyone', effect: 'allow', match: { routes: ['api'] } }],
    },
    opts,
  );
}

const call = (gw: TestGateway, token: string): Promise<Reply> => send(gw.url, { path: '/api/x', headers: { authorization: `Bearer ${token}` }, timeoutMs: 10_000 });
const readyz = async (gw: TestGateway) => {
  const reply = await send(gw.url, { path: '/readyz' });
  const body = JSON.parse(reply.body) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
  return { status: reply.status, ready: body.ready, jwks: body.checks['jwks:idp']! };
};

/** Wait (10 ms at a time, at most `tries` times) until `cond` holds; the caller asserts what it needs. */
async function until(cond: () => boolean | Promise<boolean>, tries = 500): Promise<void> {
  for (let n = 0; n < tries && !(await cond()); n++) await new Promise((r) => setTimeout(r, 10));
}

/** A token for alice from the test IdP, signed by `key` (default its first) under `kid` (default the key's). */
let serial = 0;
function tokenOf(i: TestIdp, nowMs: number, key: TestKey = i.keys[0]!, kid = key.kid): Promise<string> {
  return i.sign(aliceClaims(i, nowMs, { jti: `j${serial++}` }), { key: { ...key, kid } });
}

test('a key rotation under steady load: zero 401s for valid tokens, and one extra JWKS fetch', async () => {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = await startQuietIdp(publicUrl);
  let jwksFetches = 0;
  const countingFetch: typeof fetch = (input, init) => {
    if (String(input instanceof Request ? input.url : input) === idp.jwksUri) jwksFetches++;
    return fetch(input, init);
  };
  const gw = await startTestGateway(
    {
      server: { port, publicUrl },
      issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl }],
      routes: [{ id: 'api', path: '/api', upstream: backend.url }],
      policies: [{ id: 'anyone', effect: 'allow', match: { routes: ['api'] } }],
    },
    { fetch: countingFetch },
  );
  try {
    // Every request carries a token minted for it (no verified-token cache hit), with the key
    // the IdP signs with at that moment: the rotation is seen by the very next mint.
    const statuses = new Map<number, number>();
    const byKid = new Map<string, number>();
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const token = await idp.mint('alice');
        const reply = await call(gw, token);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        if (reply.status === 200) {
          const kid = String(decodeProtectedHeader(token).kid);
          byKid.set(kid, (byKid.get(kid) ?? 0) + 1);
        }
      }
    };
    const total = () => [...statuses.values()].reduce((a, b) => a + b, 0);
    const workers = [worker(), worker(), worker(), worker()];
    await until(() => total() >= 40, 3_000);
    const oldKid = [...byKid.keys()][0]!;
    const newKid = await idp.rotateKeys();
    await until(() => (byKid.get(newKid) ?? 0) >= 60, 3_000);
    stop = true;
    await Promise.all(workers);

    assert.equal(statuses.get(401) ?? 0, 0, `401s for valid tokens: ${JSON.stringify([...statuses])}`);
    assert.deepEqual([...statuses.keys()], [200], `every request succeeds: ${JSON.stringify([...statuses])}`);
    assert.ok((byKid.get(oldKid) ?? 0) >= 40, 'load before the rotation');
    assert.ok((byKid.get(newKid) ?? 0) >= 60, 'load after the rotation');
    assert.equal(jwksFetches, 2, 'the start, then one fetch for the new kid');

    // The old key, once the IdP stops publishing it, is not accepted any more once a fetch saw it gone.
    const oldToken = await idp.mint('alice');
    idp.retireOldKeys();
    const newer = await idp.rotateKeys();
    idp.retireOldKeys();
    assert.equal((await call(gw, await idp.mint('alice'))).status, 200, `a token of ${newer}`);
    assertDenied(await call(gw, oldToken), 401, 'token-invalid', 'a token of a retired key');
  } finally {
    await gw.close();
    await idp.close();
  }
});

describe('a flood of tokens with random kids', () => {
  test('causes at most perMinute JWKS fetches, does not stop valid tokens, and a rotation is picked up once the bound refills', async () => {
    const i = await startTestIdp();
    const clock = manualClock();
    const gw = await gatewayFor({ issuer: i.issuer, audience: 'https://api.test', jwksRefetch: { minIntervalMs: 20, perMinute: 5 } }, { now: clock.now });
    try {
      assert.equal((await call(gw, await tokenOf(i, clock.now()))).status, 200);
      const before = i.hits.jwks;
      const stranger = await makeKey('x');
      const flood = new Map<number, number>();
      const valid = new Map<number, number>();
      for (let batch = 0; batch < 10; batch++) {
        const random = Array.from({ length: 10 }, (_, n) => tokenOf(i, clock.now(), stranger, `rnd-${batch}-${n}`).then((t) => call(gw, t)));
        const good = Array.from({ length: 3 }, () => tokenOf(i, clock.now()).then((t) => call(gw, t)));
        for (const r of await Promise.all(random)) flood.set(r.status, (flood.get(r.status) ?? 0) + 1);
        for (const r of await Promise.all(good)) valid.set(r.status, (valid.get(r.status) ?? 0) + 1);
      }
      assert.deepEqual([...valid], [[200, 30]], 'valid tokens during the flood');
      assert.equal(flood.get(200), undefined, 'a random kid was accepted');
      assert.equal((flood.get(401) ?? 0) + (flood.get(503) ?? 0), 100);
      const fetches = i.hits.jwks - before;
      assert.ok(fetches >= 1 && fetches <= 5, `${fetches} JWKS fetches for 100 random kids (bound: 5, the clock did not move)`);
      assert.ok((flood.get(503) ?? 0) > 0, 'the bound was never reached');
      const metrics = (await send(gw.url, { path: '/metrics' })).body;
      assert.ok(Number(/^behalf_jwks_refetch_limited_total\{issuer="idp"\} (\d+)$/m.exec(metrics)?.[1]) >= (flood.get(503) ?? 0), 'refused refetches are counted');

      // A real rotation during the flood: its kid is checked when the bound allows one more fetch.
      const next = await makeKey('k2');
      i.keys.push(next);
      clock.advance(12_000); // 60 s / perMinute
      assert.equal((await call(gw, await tokenOf(i, clock.now(), next))).status, 200, 'the new key after the refill');
      assert.equal(i.hits.jwks - before, fetches + 1);
    } finally {
      await gw.close();
      await i.close();
    }
  });
});

test('the IdP down at start, then back: 503 meanwhile, served again within minIntervalMs of its return', async () => {
  const i = await startTestIdp();
  i.down = true;
  const clock = manualClock();
  const gw = await gatewayFor({ issuer: i.issuer, audience: 'https://api.test' }, { now: clock.now });
  try {
    await until(async () => /last fetch failed/.test((await readyz(gw)).jwks.detail ?? ''));
    const down = await readyz(gw);
    assert.equal(down.status, 503);
    assert.equal(down.jwks.ok, false);
    assertDenied(await call(gw, await tokenOf(i, clock.now())), 503, 'idp-unavailable', 'while the IdP is down');
    const attempts = i.hits.refused;

    i.down = false;
    // Inside minIntervalMs (1 s) of the last attempt nothing more is asked of the IdP...
    assertDenied(await call(gw, await tokenOf(i, clock.now())), 503, 'idp-unavailable', 'inside minIntervalMs');
    assert.equal(i.hits.refused, attempts);
    assert.equal(i.hits.jwks, 0);
    // ...and the first request after it is served.
    clock.advance(1_000);
    assert.equal((await call(gw, await tokenOf(i, clock.now()))).status, 200);
    assert.equal(i.hits.jwks, 1);
    const up = await readyz(gw);
    assert.equal(up.status, 200);
    assert.deepEqual(up.jwks, { ok: true });
  } finally {
    await gw.close();
    await i.close();
  }
});

test('without traffic, /readyz probes alone bring the keys back within minIntervalMs of the IdP returning', async () => {
  const i = await startTestIdp();
  i.down = true;
  const clock = manualClock();
  const gw = await gatewayFor({ issuer: i.issuer, audience: 'https://api.test' }, { now: clock.now });
  try {
    await until(async () => /last fetch failed/.test((await readyz(gw)).jwks.detail ?? ''));
    i.down = false;
    clock.advance(1_000);
    await until(async () => (await readyz(gw)).ready);
    assert.equal((await readyz(gw)).status, 200);
    assert.equal(i.hits.jwks, 1);
  } finally {
    await gw.close();
    await i.close();
  }
});

describe('the IdP replaced the key under a kid it kept', () => {
  test('one refetch on the first bad signature picks it up (no 401 for valid tokens); forgeries under the kid stay 401 with bounded fetches; /readyz says what it holds', async () => {
    const i = await startTestIdp();
    const clock = manualClock();
    const gw = await gatewayFor({ issuer: i.issuer, audience: 'https://api.test', jwksRefetch: { minIntervalMs: 50, perMinute: 4 } }, { now: clock.now });
    try {
      assert.equal((await call(gw, await tokenOf(i, clock.now()))).status, 200);
      assert.deepEqual((await readyz(gw)).jwks, { ok: true });
      assert.equal(i.hits.jwks, 1);

      const replaced = await makeKey('k1');
      i.keys = [replaced];
      const first = await Promise.all(Array.from({ length: 8 }, () => tokenOf(i, clock.now(), replaced).then((t) => call(gw, t))));
      assert.deepEqual(first.map((r) => r.status), Array(8).fill(200), 'valid tokens of the replaced key');
      assert.equal(i.hits.jwks, 2, 'one refetch for all of them');

      const forger = await makeKey('k1');
      for (let n = 0; n < 12; n++) {
        assertDenied(await call(gw, await tokenOf(i, clock.now(), forger)), 401, 'token-invalid', 'a forged signature under k1');
        assert.equal((await call(gw, await tokenOf(i, clock.now(), replaced))).status, 200, 'a valid token among forgeries');
      }
      assert.ok(i.hits.jwks - 2 <= 3, `${i.hits.jwks - 2} fetches for forgeries (bound: 4 per minute, one spent)`);

      // The IdP swaps again while its JWKS fails: the token may be good, so 503, not 401, and
      // /readyz says the keys it serves with and that the last fetch failed.
      clock.advance(60_000);
      const again = await makeKey('k1');
      i.keys = [again];
      i.jwksStatus = 500;
      assertDenied(await call(gw, await tokenOf(i, clock.now(), again)), 503, 'idp-unavailable', 'a swapped key while the JWKS fails');
      const degraded = await readyz(gw);
      assert.equal(degraded.jwks.ok, true, 'keys are still held and serve the tokens they verify');
      assert.match(degraded.jwks.detail ?? '', /using 1 key\(s\) fetched .* ago; last fetch failed .*HTTP 500/);
      i.jwksStatus = 200;
      clock.advance(1_000);
      assert.equal((await call(gw, await tokenOf(i, clock.now(), again))).status, 200);
      assert.deepEqual((await readyz(gw)).jwks, { ok: true });
    } finally {
      await gw.close();
      await i.close();
    }
  });
});

describe('a slow JWKS endpoint', () => {
  test('/readyz answers from memory while the JWKS request is held, at start and during a refetch', async () => {
    const i = await startTestIdp();
    i.jwksHang = true;
    const gw = await gatewayFor({ issuer: i.issuer, audience: 'https://api.test', jwksRefetch: { minIntervalMs: 0 } });
    try {
      await until(() => i.pendingJwks === 1);
      const starting = await readyz(gw);
      assert.equal(i.pendingJwks, 1, 'the JWKS answered before /readyz');
      assert.equal(starting.status, 503);
      assert.deepEqual(starting.jwks, { ok: false, detail: 'fetching keys' });

      i.jwksHang = false;
      i.releaseJwks();
      await until(async () => (await readyz(gw)).ready);
      assert.equal((await call(gw, await tokenOf(i, Date.now()))).status, 200);

      // A new kid makes the gateway refetch; the IdP holds that fetch. /readyz does not wait for it.
      i.jwksHang = true;
      const next = await makeKey('k2');
      i.keys.push(next);
      const pending = call(gw, await tokenOf(i, Date.now(), next));
      await until(() => i.pendingJwks === 1);
      const during = await readyz(gw);
      assert.equal(i.pendingJwks, 1, 'the JWKS answered before /readyz');
      assert.equal(during.status, 200);
      assert.deepEqual(during.jwks, { ok: true });
      i.jwksHang = false;
      i.releaseJwks();
      assert.equal((await pending).status, 200, 'the request that waited for the new key');
    } finally {
      await gw.close();
      await i.close();
    }
  });
});
