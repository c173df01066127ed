import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { createMemoryReplayCache, createVerifier, isBehalfError, type VerifyOptions } from '../../src/backend/index.js';
import { createRootVerifier } from '../../src/backend/batch-roots.js';
import { ASSERTION_TYPE } from '../../src/forward/identity/assertion-claims.js';
import { BATCH_ROOT_TYPE, formatBatchedAssertion, parseBatchedAssertion } from '../../src/forward/identity/batch-format.js';
import { buildTree, leafHash } from '../../src/forward/identity/merkle-tree.js';
import { createAssertionSigner, signCompact, type AssertionInput, type AssertionSigner } from '../../src/forward/identity/signed-assertion.js';
import { loadSigningKeys, type SigningKeys } from '../../src/forward/identity/signing-keys.js';
import { bodyDigest } from '../../src/lib/digest.js';
import { alice } from '../forward/fixtures.js';

// The batched assertion end to end between the gateway's signer and behalf/backend's verifier,
// with real keys: what a backend accepts, and every way a leaf, a proof or a root can be bent.

const ISSUER = 'https://gateway.acme.test';
const AUDIENCE = 'http://hr.internal:8080';
const PATH = '/v1/reviews/bob';

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isBehalfError(err), `a BehalfError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('batched assertions', () => {
  let dir: string;
  let keys: SigningKeys;
  let signer: AssertionSigner;
  let options: VerifyOptions;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-batch-'));
    keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: 'k.json', rotateAfterDays: 0, overlapSeconds: 60 }, { baseDir: dir });
    // A generous wait: a cold first call on a loaded machine must not split the test's batch.
    signer = createAssertionSigner(keys, { issuer: ISSUER, batch: { maxLeaves: 256, maxWaitMicroseconds: 10_000 } });
    options = { issuer: ISSUER, audience: AUDIENCE, keys: keys.publicJwks() };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const input = (over: Partial<AssertionInput> = {}): AssertionInput => ({ identity: alice, audience: AUDIENCE, method: 'GET', path: PATH, ttlSeconds: 30, form: 'batched', ...over });
  const get = (path = PATH) => ({ method: 'GET', url: path, headers: {} as Record<string, string> });
  const withHeader = (token: string, req = get()) => ({ ...req, headers: { 'x-behalf-assertion': token } });
  /** Signs `count` batched assertions in one turn; they share one batch. */
  const batch = (count: number, over: (i: number) => Partial<AssertionInput> = () => ({})) => Promise.all(Array.from({ length: count }, (_, i) => signer.sign(input(over(i)))));

  it('assertions made in one turn share one signed root; each verifies with its own claims', async () => {
    const before = signer.batchStats();
    const tokens = await batch(7, (i) => ({ path: `${PATH}?n=${i}` }));
    const after = signer.batchStats();
    assert.equal(after.batches - before.batches, 1, 'one signature for seven assertions');
    assert.equal(after.assertions - before.assertions, 7);
    const roots = new Set(tokens.map((t) => t.split('~')[0]));
    assert.equal(roots.size, 1);
    const verifier = createVerifier(options);
    for (const [i, token] of tokens.entries()) {
      const caller = await verifier.verify(withHeader(token, get(`${PATH}?n=${i}`)));
      assert.equal(caller.user, 'alice');
      assert.equal(caller.claims['htu'], `${PATH}?n=${i}`);
    }
    // The root is a JWS of its own type, over the root hash and the size.
    const { payload, protectedHeader } = await jwtVerify(tokens[0]!.split('~')[0]!, createLocalJWKSet(keys.publicJwks()), { typ: BATCH_ROOT_TYPE });
    assert.equal(protectedHeader.typ, BATCH_ROOT_TYPE);
    assert.equal(payload['size'], 7);
    assert.equal(payload['iss'], ISSUER);
  });

  it('a batch of one is an ordinary assertion', async () => {
    const [token] = await batch(1);
    assert.ok(!token!.includes('~'));
    assert.equal(decodeProtectedHeader(token!).typ, ASSERTION_TYPE);
    assert.equal((await createVerifier(options).verify(withHeader(token!))).user, 'alice');
  });

  it('a leaf is bound to its request, like an ordinary assertion', async () => {
    const [token] = await batch(3);
    const verifier = createVerifier(options);
    await rejects(verifier.verify(withHeader(token!, get('/v1/reviews/mallory'))), 'assertion-request-mismatch');
    await rejects(verifier.verify({ ...withHeader(token!), method: 'DELETE' }), 'assertion-request-mismatch');
    await rejects(verifier.verify(withHeader(token!), '{"x":1}'), 'assertion-body-mismatch');
    await rejects(createVerifier({ ...options, audience: 'http://payroll.internal' }).verify(withHeader(token!)), 'assertion-audience-mismatch');
    await rejects(createVerifier({ ...options, issuer: 'https://other.test' }).verify(withHeader(token!)), 'assertion-invalid');
  });

  it('an edited leaf, a proof borrowed from another leaf or a wrong index are refused', async () => {
    const tokens = await batch(5, (i) => ({ identity: { ...alice, id: i === 2 ? 'mallory' : 'alice' } }));
    const verifier = createVerifier(options);
    const parts = tokens.map((t) => parseBatchedAssertion(t)!);
    const [root] = tokens[0]!.split('~');
    // Alice's leaf rewritten to name Mallory, with Alice's proof.
    const claims = JSON.parse(parts[0]!.leaf.toString()) as Record<string, unknown>;
    const edited = Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url');
    await rejects(verifier.verify(withHeader(formatBatchedAssertion(root!, edited, 0, parts[0]!.path))), 'assertion-invalid');
    // Mallory's leaf with Alice's proof and index.
    await rejects(verifier.verify(withHeader(formatBatchedAssertion(root!, parts[2]!.leaf.toString('base64url'), 0, parts[0]!.path))), 'assertion-invalid');
    // Alice's leaf and proof under another index.
    await rejects(verifier.verify(withHeader(formatBatchedAssertion(root!, parts[0]!.leaf.toString('base64url'), 1, parts[0]!.path))), 'assertion-invalid');
    // A proof one hash short, or one hash too long.
    await rejects(verifier.verify(withHeader(formatBatchedAssertion(root!, parts[0]!.leaf.toString('base64url'), 0, parts[0]!.path.slice(1)))), 'assertion-invalid');
    await rejects(verifier.verify(withHeader(formatBatchedAssertion(root!, parts[0]!.leaf.toString('base64url'), 0, [...parts[0]!.path, parts[0]!.path[0]!]))), 'assertion-invalid');
    // Each untouched token still verifies.
    assert.equal((await verifier.verify(withHeader(tokens[2]!))).user, 'mallory');
  });

  it('malformed values are refused before any crypto', async () => {
    const [token] = await batch(2);
    const verifier = createVerifier(options);
    const [root, leaf, proof] = token!.split('~') as [string, string, string];
    for (const bad of [`${root}~${leaf}`, `${root}~${leaf}~${proof}~x`, `${root}~${leaf}~01.${proof.split('.')[1]}`, `${root}~${leaf}!~${proof}`, `${root}~${leaf}~0.${proof.split('.')[1]}AA`, `${root}~~${proof}`]) {
      await rejects(verifier.verify(withHeader(bad)), 'assertion-invalid');
    }
  });

  it('a root is not an assertion, and an assertion is not a root (explicit typ)', async () => {
    const { kid, key } = keys.current();
    const now = Math.floor(Date.now() / 1_000);
    const tokens = await batch(2);
    const parts = parseBatchedAssertion(tokens[0]!)!;
    // The root re-labelled EdDSA over the gateway's P-256 key: refused as invalid (401), not a key-set fault (503).
    const [signedRoot, leafText, proofText] = tokens[0]!.split('~') as [string, string, string];
    const relabelled = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid, typ: BATCH_ROOT_TYPE })).toString('base64url')}.${signedRoot.split('.').slice(1).join('.')}`;
    await rejects(createVerifier(options).verify(withHeader(`${relabelled}~${leafText}~${proofText}`)), 'assertion-invalid');
    // The root JWS alone, sent as a plain assertion.
    await rejects(createVerifier(options).verify(withHeader(tokens[0]!.split('~')[0]!)), 'assertion-invalid');
    // A genuine root signed with the assertion typ: refused as a batch root.
    const rootHash = buildTree([leafHash(parts.leaf), parts.path[0]!]).root.toString('base64url');
    const wrongTyp = signCompact(keys.alg, kid, key, ASSERTION_TYPE, { iss: ISSUER, iat: now, exp: now + 30, root: rootHash, size: 2 });
    await rejects(createVerifier(options).verify(withHeader(formatBatchedAssertion(wrongTyp, parts.leaf.toString('base64url'), 0, parts.path))), 'assertion-invalid');
  });

  it('a batch that lives past its time is refused, as each leaf is', async () => {
    let clock = Date.now();
    const late = createAssertionSigner(keys, { issuer: ISSUER, now: () => clock });
    const tokens = await Promise.all([late.sign(input()), late.sign(input())]);
    clock += 40_000;
    const verifier = createVerifier({ ...options, now: () => clock });
    await rejects(verifier.verify(withHeader(tokens[0]!)), 'assertion-expired');
  });

  it('a leaf may not outlive its root nor claim another iat', async () => {
    const { kid, key } = keys.current();
    const now = Math.floor(Date.now() / 1_000);
    const leafFor = (claims: Record<string, unknown>) => Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', roles: [], scope: '', idp_iss: alice.issuer, htm: 'GET', htu: PATH, bdg: bodyDigest(undefined), jti: crypto.randomUUID(), iat: now, exp: now + 30, ...claims }));
    const sign = (leaves: Buffer[], root: Record<string, unknown> = {}) => {
      const tree = buildTree(leaves.map((l) => leafHash(l)));
      const signed = signCompact(keys.alg, kid, key, BATCH_ROOT_TYPE, { iss: ISSUER, iat: now, exp: now + 30, root: tree.root.toString('base64url'), size: tree.size, ...root });
      return leaves.map((l, i) => formatBatchedAssertion(signed, l.toString('base64url'), i, tree.proof(i)));
    };
    const verifier = createVerifier(options);
    const good = sign([leafFor({}), leafFor({})]);
    assert.equal((await verifier.verify(withHeader(good[0]!))).user, 'alice', 'a hand-made batch that follows the spec verifies');
    await rejects(verifier.verify(withHeader(sign([leafFor({ exp: now + 50 }), leafFor({})])[0]!)), 'assertion-invalid');
    await rejects(verifier.verify(withHeader(sign([leafFor({ iat: now - 1 }), leafFor({})])[0]!)), 'assertion-invalid');
    await rejects(verifier.verify(withHeader(sign([leafFor({}), leafFor({})], { size: 1 })[0]!)), 'assertion-invalid');
    await rejects(verifier.verify(withHeader(sign([leafFor({}), leafFor({})], { exp: now + 90 })[0]!)), 'assertion-invalid');
    // A leaf without a jti (the salt) or without a body binding is not an assertion.
    const { jti: _jti, ...noJti } = JSON.parse(leafFor({}).toString()) as Record<string, unknown>;
    await rejects(verifier.verify(withHeader(sign([Buffer.from(JSON.stringify(noJti)), leafFor({})])[0]!)), 'assertion-invalid');
  });

  it('a replay cache refuses a leaf used twice, and not its batch-mates', async () => {
    const tokens = await batch(3);
    const verifier = createVerifier({ ...options, replayCache: createMemoryReplayCache() });
    await verifier.verify(withHeader(tokens[0]!));
    await rejects(verifier.verify(withHeader(tokens[0]!)), 'assertion-replayed');
    assert.equal((await verifier.verify(withHeader(tokens[1]!))).user, 'alice');
  });

  it('forms: a backend may accept only one form', async () => {
    const [batched] = await batch(2);
    const plain = signer.signSync(input());
    await rejects(createVerifier({ ...options, forms: ['jwt'] }).verify(withHeader(batched!)), 'assertion-invalid');
    await rejects(createVerifier({ ...options, forms: ['batched'] }).verify(withHeader(plain)), 'assertion-invalid');
    assert.equal((await createVerifier({ ...options, forms: ['jwt'] }).verify(withHeader(plain))).user, 'alice');
  });

  it('the backend verifies one signature per batch, even for requests arriving together', async () => {
    const tokens = await batch(16);
    const local = createLocalJWKSet(keys.publicJwks());
    let keyLookups = 0;
    const counting: JWTVerifyGetKey = (header, token) => {
      keyLookups++;
      return local(header, token);
    };
    const roots = createRootVerifier(counting, { issuer: ISSUER, toleranceSeconds: 5, now: Date.now });
    const verified = await Promise.all(tokens.map((t) => roots.verify(parseBatchedAssertion(t)!.signedRoot)));
    assert.equal(keyLookups, 1);
    assert.equal(verified[0]!.size, 16);
    // A forged root is verified (and refused) each time; it is not kept.
    const signed = tokens[0]!.split('~')[0]!;
    const at = signed.length - 20;
    const forged = signed.slice(0, at) + (signed[at] === 'A' ? 'B' : 'A') + signed.slice(at + 1);
    await assert.rejects(roots.verify(forged));
    await assert.rejects(roots.verify(forged));
    assert.equal(keyLookups, 3);
  });

  it('maxLeaves bounds a batch; maxWaitMicroseconds signs a batch opened too long ago', async () => {
    const small = createAssertionSigner(keys, { issuer: ISSUER, batch: { maxLeaves: 4, maxWaitMicroseconds: 250 } });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => small.sign(input())));
    assert.deepEqual(small.batchStats(), { batches: 3, assertions: 10 });
    assert.deepEqual(tokens.map((t) => parseBatchedAssertion(t)?.index ?? 'jwt'), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);

    const quick = createAssertionSigner(keys, { issuer: ISSUER, batch: { maxLeaves: 256, maxWaitMicroseconds: 0 } });
    const first = quick.sign(input());
    const second = quick.sign(input());
    // With no wait allowed, the second request closes the batch at once (both in one batch of two).
    const [a, b] = await Promise.all([first, second]);
    assert.equal(quick.batchStats().batches, 1);
    assert.equal(a!.split('~')[0], b!.split('~')[0]);
  });
});

describe('batched assertion wire form', () => {
  it('only the canonical base64url of a leaf or path is accepted', () => {
    const root = 'h.p.s';
    const path = Buffer.alloc(32, 7).toString('base64url');
    const leaf = Buffer.from('{"a":1}').toString('base64url'); // 7 bytes: 10 characters, the last holding 2 unused bits
    assert.ok(parseBatchedAssertion(`${root}~${leaf}~0.${path}`));
    const sloppy = (text: string) => text.slice(0, -1) + String.fromCharCode(text.charCodeAt(text.length - 1) + 1);
    assert.equal(parseBatchedAssertion(`${root}~${sloppy(leaf)}~0.${path}`), undefined, 'a leaf with unused bits set');
    assert.equal(parseBatchedAssertion(`${root}~${leaf}AAA~0.${path}`), undefined, 'a lone trailing character (13 characters)');
    assert.equal(parseBatchedAssertion(`${root}~${leaf}~0.${sloppy(path)}`), undefined, 'a path with unused bits set');
    assert.equal(parseBatchedAssertion(`${root}~${leaf}~0.${path.slice(0, -2)}`), undefined, 'a path of 31 bytes');
  });
});

describe('batch roots: algorithms and keys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-batch-alg-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('an EdDSA gateway batch verifies; a root with alg none, HS256 or a crit header is refused', async () => {
    const ed = await loadSigningKeys({ algorithm: 'EdDSA', keyFile: 'ed.json', rotateAfterDays: 0, overlapSeconds: 60 }, { baseDir: dir });
    const signer = createAssertionSigner(ed, { issuer: ISSUER, batch: { maxLeaves: 256, maxWaitMicroseconds: 10_000 } });
    const input: AssertionInput = { identity: alice, audience: AUDIENCE, method: 'GET', path: PATH, ttlSeconds: 30, form: 'batched' };
    const tokens = await Promise.all([signer.sign(input), signer.sign(input)]);
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: ed.publicJwks() });
    assert.equal((await verifier.verify({ method: 'GET', url: PATH, headers: { 'x-behalf-assertion': tokens[0]! } })).user, 'alice');

    const [root, leaf, proof] = tokens[1]!.split('~') as [string, string, string];
    const [, body, signature] = root.split('.') as [string, string, string];
    const { kid } = ed.current();
    for (const header of [{ alg: 'none', kid, typ: BATCH_ROOT_TYPE }, { alg: 'HS256', kid, typ: BATCH_ROOT_TYPE }, { alg: 'EdDSA', kid, typ: BATCH_ROOT_TYPE, crit: ['exp'] }]) {
      const forged = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${body}.${signature}`;
      await rejects(verifier.verify({ method: 'GET', url: PATH, headers: { 'x-behalf-assertion': `${forged}~${leaf}~${proof}` } }), 'assertion-invalid');
    }
  });
});

describe('batch signer failures', () => {
  it('a request whose claims cannot be built fails alone; its batch-mates are signed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'behalf-batch-fail-'));
    try {
      const keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: 'k.json', rotateAfterDays: 0, overlapSeconds: 60 }, { baseDir: dir });
      const signer = createAssertionSigner(keys, { issuer: ISSUER, batch: { maxLeaves: 256, maxWaitMicroseconds: 10_000 } });
      const good: AssertionInput = { identity: alice, audience: AUDIENCE, method: 'GET', path: PATH, ttlSeconds: 30, form: 'batched' };
      // A method that is not a string: building its claims throws (a caller's bug, not the batch's).
      const bad = { ...good, method: undefined } as unknown as AssertionInput;
      const results = await Promise.allSettled([signer.sign(good), signer.sign(bad), signer.sign(good)]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: keys.publicJwks() });
      for (const r of results) if (r.status === 'fulfilled') assert.equal((await verifier.verify({ method: 'GET', url: PATH, headers: { 'x-behalf-assertion': r.value } })).user, 'alice');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
