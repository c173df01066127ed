import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createAuthenticator, type AuthResult, type Authenticator } from '../../src/authenticate/index.js';
import { aliceClaims, bearer, makeKey, startTestIdp, type TestIdp, type TestKey } from './test-idp.js';

// When an issuer's JWKS is fetched again (issuers[].jwksRefetch): a rotation costs one fetch and
// no refusal, random kids cost a bounded number of fetches, a key replaced under its kid is
// picked up. Real keys and real HTTP; the clock is injected and the refetch's wait moves it.

const T0 = 1_800_000_000_000;
const idps: TestIdp[] = [];
afterEach(async () => {
  await Promise.all(idps.splice(0).map((i) => i.close()));
});

interface Setup {
  i: TestIdp;
  auth: Authenticator;
  clock: { now: number };
  /** Every wait the refetch asked for, in ms. */
  slept: number[];
  token(extra?: { key?: TestKey; kid?: string }): Promise<string>;
}

let serial = 0;
async function setup(jwksRefetch: { minIntervalMs?: number; perMinute?: number } = {}): Promise<Setup> {
  const i = await startTestIdp();
  idps.push(i);
  const clock = { now: T0 };
  const slept: number[] = [];
  const auth = createAuthenticator({
    issuers: [i.config({ jwksRefetch })],
    maxTokenBytes: 16_384,
    now: () => clock.now,
    cacheEntries: 0,
    sleep: async (ms) => {
      slept.push(ms);
      clock.now += ms;
    },
  });
  const token = (extra: { key?: TestKey; kid?: string } = {}) => {
    const key = extra.key ?? i.keys[0]!;
    return i.sign(aliceClaims(i, T0, { jti: `t${serial++}` }), { key: extra.kid === undefined ? key : { ...key, kid: extra.kid } });
  };
  return { i, auth, clock, slept, token };
}

function reason(r: AuthResult): string {
  return r.ok ? 'ok' : r.decision.reason;
}

describe('a key rotation', () => {
  it('is accepted at once even right after a fetch: the new kid waits for minIntervalMs, one fetch serves every waiting token', async () => {
    const s = await setup({ minIntervalMs: 1_000 });
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token()))), 'ok');
    assert.equal(s.i.hits.jwks, 1);

    const next = await makeKey('k2');
    s.i.keys.push(next);
    s.clock.now += 200; // 0.2 s after the last fetch: the old 30 s cooldown refused this for 29.8 s
    const tokens = await Promise.all([0, 1, 2, 3, 4, 5].map(() => s.token({ key: next })));
    const results = await Promise.all(tokens.map((t) => s.auth.authenticate(bearer(t))));
    assert.deepEqual(results.map(reason), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    assert.equal(s.i.hits.jwks, 2, 'one fetch for the rotation');
    assert.deepEqual(s.slept, [800], 'waited only for the rest of minIntervalMs');
  });

  it('a token of the old key still verifies after the rotation (both published), and not once the IdP retires it', async () => {
    const s = await setup({ minIntervalMs: 0 });
    const old = s.i.keys[0]!;
    const next = await makeKey('k2');
    s.i.keys.push(next);
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token({ key: next })))), 'ok');
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token({ key: old })))), 'ok');
    s.i.keys = [next];
    const third = await makeKey('k3');
    s.i.keys.push(third);
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token({ key: third })))), 'ok');
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token({ key: old })))), 'token-invalid', 'a retired key was still accepted');
  });
});

describe('a flood of random kids', () => {
  it('causes at most perMinute fetches (plus the refill), answers 401 while it can look and 503 once it cannot, and never stops valid tokens', async () => {
    const s = await setup({ minIntervalMs: 100, perMinute: 5 });
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token()))), 'ok');
    const before = s.i.hits.jwks;
    const stranger = await makeKey('x');
    const seen: Record<string, number> = {};
    for (let n = 0; n < 60; n++) {
      const r = await s.auth.authenticate(bearer(await s.token({ key: stranger, kid: `rnd-${n}` })));
      assert.equal(r.ok, false);
      const key = `${reason(r)} ${!r.ok && r.decision.status}`;
      seen[key] = (seen[key] ?? 0) + 1;
      assert.equal(reason(await s.auth.authenticate(bearer(await s.token()))), 'ok', 'a valid token was refused during the flood');
    }
    const fetches = s.i.hits.jwks - before;
    const elapsed = s.clock.now - T0;
    assert.ok(fetches <= 5 + Math.floor(elapsed / 12_000), `${fetches} fetches in ${elapsed} ms of (test) clock`);
    assert.equal(seen['token-invalid 401'], fetches, 'each fetch answers one random kid with 401');
    assert.equal(seen['idp-unavailable 503'], 60 - fetches, 'the rest could not be checked: 503, not 401');
    assert.ok(s.slept.every((ms) => ms <= 100), `waited longer than minIntervalMs: ${s.slept.join(',')}`);
  });

  it('still lets a rotation in once the bound refills, and answers 401 to a kid already shown absent', async () => {
    const s = await setup({ minIntervalMs: 0, perMinute: 2 });
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token()))), 'ok');
    const stranger = await makeKey('x');
    const shown = await s.token({ key: stranger, kid: 'gone' });
    assert.equal(reason(await s.auth.authenticate(bearer(shown))), 'token-invalid');
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token({ key: stranger, kid: 'rnd' })))), 'token-invalid');
    const spent = await s.auth.authenticate(bearer(await s.token({ key: stranger, kid: 'rnd-2' })));
    assert.equal(!spent.ok && spent.decision.status, 503, 'the bound was not reached after perMinute fetches');
    assert.match((!spent.ok && spent.decision.detail) || '', /refetch limit/);
    assert.equal(reason(await s.auth.authenticate(bearer(shown))), 'token-invalid', 'a kid shown absent must stay a 401');

    const next = await makeKey('k2');
    s.i.keys.push(next);
    const fresh = await s.token({ key: next });
    assert.equal(reason(await s.auth.authenticate(bearer(fresh))), 'idp-unavailable', 'not checked: 503, retry later');
    s.clock.now += 30_000; // 60 s / perMinute: one fetch more
    assert.equal(reason(await s.auth.authenticate(bearer(fresh))), 'ok');
  });
});

describe('a key replaced under its kid', () => {
  it('is picked up by one refetch after the first bad signature; forged signatures under the kid stay 401 with bounded fetches', async () => {
    const s = await setup({ minIntervalMs: 500, perMinute: 3 });
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token()))), 'ok');
    const replaced = await makeKey('k1');
    s.i.keys = [replaced];
    s.clock.now += 100;
    const results = await Promise.all([0, 1, 2].map(async () => s.auth.authenticate(bearer(await s.token({ key: replaced })))));
    assert.deepEqual(results.map(reason), ['ok', 'ok', 'ok']);
    assert.equal(s.i.hits.jwks, 2);

    const forger = await makeKey('k1');
    for (let n = 0; n < 20; n++) {
      const r = await s.auth.authenticate(bearer(await s.token({ key: forger })));
      assert.equal(reason(r), 'token-invalid', 'a forged signature under a known kid');
      assert.equal(!r.ok && r.decision.status, 401);
    }
    assert.ok(s.i.hits.jwks - 2 <= 2, `${s.i.hits.jwks - 2} fetches for forged signatures (bound: 3, one spent on the replacement)`);
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token({ key: replaced })))), 'ok');
  });

  it('answers 503 when the refetch that could show the new key fails', async () => {
    const s = await setup({ minIntervalMs: 0 });
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token()))), 'ok');
    const replaced = await makeKey('k1');
    s.i.keys = [replaced];
    s.i.jwksStatus = 500;
    const r = await s.auth.authenticate(bearer(await s.token({ key: replaced })));
    assert.equal(reason(r), 'idp-unavailable');
    s.i.jwksStatus = 200;
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token({ key: replaced })))), 'ok');
  });
});

describe('key status for /readyz', () => {
  it('answers from memory while the JWKS request hangs, and fetches in the background', async () => {
    const s = await setup({ minIntervalMs: 1_000 });
    s.i.jwksHang = true;
    assert.deepEqual(s.auth.keyStatus()[0], { issuerId: 'main', ok: false, detail: 'fetching keys' });
    await until(() => s.i.pendingJwks === 1);
    assert.deepEqual(s.auth.keyStatus()[0], { issuerId: 'main', ok: false, detail: 'fetching keys' }, 'answered while the JWKS request is held');
    assert.equal(s.i.pendingJwks, 1);
    s.i.jwksHang = false;
    s.i.releaseJwks();
    await until(() => s.auth.keyStatus()[0]!.ok);
    assert.deepEqual(s.auth.keyStatus()[0], { issuerId: 'main', ok: true });
    assert.equal(s.i.hits.jwks, 1);
  });

  it('probes start a fetch at most once per minIntervalMs, and bring the keys back once the IdP answers', async () => {
    const s = await setup({ minIntervalMs: 1_000 });
    s.i.down = true;
    for (let n = 0; n < 5; n++) s.auth.keyStatus();
    const failed = () => /last fetch failed/.test(s.auth.keyStatus()[0]!.detail ?? '');
    await until(failed);
    const attempts = s.i.hits.refused;
    assert.ok(attempts > 0);
    for (let n = 0; n < 5; n++) s.auth.keyStatus();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.i.hits.refused, attempts, 'the IdP was tried again inside minIntervalMs');
    assert.equal(s.auth.keyStatus()[0]!.ok, false);

    s.i.down = false;
    s.clock.now += 1_000;
    s.auth.keyStatus();
    await until(() => s.auth.keyStatus()[0]!.ok);
    assert.equal(reason(await s.auth.authenticate(bearer(await s.token()))), 'ok');
  });
});

/** Wait (a few ms at a time, at most 2 s) until `cond` holds; the caller asserts what it needs. */
async function until(cond: () => boolean): Promise<void> {
  for (let n = 0; n < 400 && !cond(); n++) await new Promise((r) => setTimeout(r, 5));
}
