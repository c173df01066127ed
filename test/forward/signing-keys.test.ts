import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, CompactSign, compactVerify, importJWK, type JWK } from 'jose';
import type { SigningConfig } from '../../src/config/schema.js';
import { isBehalfError } from '../../src/errors.js';
import { loadSigningKeys } from '../../src/forward/identity/signing-keys.js';

const DAY = 86_400_000;

function config(over: Partial<SigningConfig> = {}): Omit<SigningConfig, 'batch'> {
  return { algorithm: 'ES256', keyFile: 'keys/signing-keys.json', rotateAfterDays: 0, overlapSeconds: 3_600, ...over };
}

/** A clock the test moves by hand. */
function clock(start = Date.parse('2025-01-01T00:00:00Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

async function signsVerifiably(keys: Awaited<ReturnType<typeof loadSigningKeys>>) {
  const { kid, key } = keys.current();
  const jws = await new CompactSign(new TextEncoder().encode('probe')).setProtectedHeader({ alg: keys.alg, kid }).sign(key);
  const pub = keys.publicJwks().keys.find((k) => k.kid === kid);
  assert.ok(pub, 'the current key is published');
  await compactVerify(jws, await importJWK(pub, keys.alg));
}

describe('signing keys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-keys-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const algorithm of ['ES256', 'EdDSA'] as const) {
    it(`generates an ${algorithm} key on first start, persists it 0600, and reloads the same kid`, async () => {
      const baseDir = join(dir, `gen-${algorithm}`);
      const keys = await loadSigningKeys(config({ algorithm }), { baseDir });
      const file = join(baseDir, 'keys/signing-keys.json');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const { kid } = keys.current();
      const pub = keys.publicJwks().keys;
      assert.equal(pub.length, 1);
      assert.equal(pub[0]?.kid, kid);
      assert.equal(pub[0]?.alg, algorithm);
      assert.equal(pub[0]?.use, 'sig');
      assert.equal((pub[0] as JWK & { d?: string }).d, undefined, 'no private part in the public set');
      assert.equal(await calculateJwkThumbprint(pub[0] as JWK, 'sha256'), kid, 'kid is the RFC 7638 thumbprint');
      await signsVerifiably(keys);

      const again = await loadSigningKeys(config({ algorithm }), { baseDir });
      assert.equal(again.current().kid, kid);
      await signsVerifiably(again);
    });
  }

  it('gives instances starting together on one key file the same key', async () => {
    const baseDir = join(dir, 'race');
    const all = await Promise.all([1, 2, 3, 4].map(() => loadSigningKeys(config(), { baseDir })));
    assert.equal(new Set(all.map((k) => k.current().kid)).size, 1);
    const reloaded = await loadSigningKeys(config(), { baseDir });
    assert.equal(reloaded.current().kid, all[0]?.current().kid);
  });

  it('returns the same JWKS object until the set changes', async () => {
    const keys = await loadSigningKeys(config(), { baseDir: join(dir, 'same') });
    assert.equal(keys.publicJwks(), keys.publicJwks());
    const before = keys.publicJwks();
    await keys.rotate();
    assert.notEqual(keys.publicJwks(), before);
  });

  const corruptions: [string, (text: string) => string][] = [
    ['not JSON', () => '{"keys": [ oops'],
    ['no keys', () => '{"keys": []}'],
    ['a key for another algorithm', (t) => t.replaceAll('"ES256"', '"EdDSA"')],
    ['a kid that is not the thumbprint', (t) => t.replace(/"kid": "[^"]+"/, '"kid": "other"')],
    ['a public part changed under its kid', (t) => t.replace(/"x": "[^"]+"/, `"x": "${'A'.repeat(43)}"`)],
    ['no current key', (t) => t.replace('"createdAt"', '"retiredAt": "2025-01-01T00:00:00.000Z", "createdAt"')],
    ['a bad creation time', (t) => t.replace(/"createdAt": "[^"]+"/, '"createdAt": "yesterday"')],
  ];
  for (const [name, corrupt] of corruptions) {
    it(`refuses a key file with ${name}, naming the file but not the key`, async () => {
      const baseDir = join(dir, `corrupt-${name.replaceAll(' ', '-')}`);
      await loadSigningKeys(config(), { baseDir });
      const file = join(baseDir, 'keys/signing-keys.json');
      const original = await readFile(file, 'utf8');
      const d = (JSON.parse(original) as { keys: { d: string }[] }).keys[0]?.d ?? '';
      await writeFile(file, corrupt(original));
      await assert.rejects(loadSigningKeys(config(), { baseDir }), (err: unknown) => {
        assert.ok(isBehalfError(err, 'signing-key-invalid'), String(err));
        assert.ok(err.message.includes(file), err.message);
        assert.ok(!err.message.includes(d), 'the private key is not in the message');
        assert.ok(!String(err.cause ?? '').includes(d), 'nor in the cause');
        return true;
      });
    });
  }

  for (const algorithm of ['ES256', 'EdDSA'] as const) {
    it(`refuses an ${algorithm} key whose private part belongs to another key (kid and public part consistent)`, async () => {
      const a = join(dir, `mix-a-${algorithm}`);
      const b = join(dir, `mix-b-${algorithm}`);
      await loadSigningKeys(config({ algorithm }), { baseDir: a });
      await loadSigningKeys(config({ algorithm }), { baseDir: b });
      const fileA = join(a, 'keys/signing-keys.json');
      const docA = JSON.parse(await readFile(fileA, 'utf8')) as { keys: Record<string, string>[] };
      const docB = JSON.parse(await readFile(join(b, 'keys/signing-keys.json'), 'utf8')) as { keys: Record<string, string>[] };
      (docA.keys[0] as Record<string, string>).d = docB.keys[0]?.d ?? '';
      await writeFile(fileA, JSON.stringify(docA));
      await assert.rejects(loadSigningKeys(config({ algorithm }), { baseDir: a }), (err: unknown) => {
        assert.ok(isBehalfError(err, 'signing-key-invalid'));
        assert.match(err.message, /do not match/);
        return true;
      });
    });
  }

  it('refuses a key file that cannot be read (a directory)', async () => {
    const baseDir = join(dir, 'unreadable');
    await mkdir(join(baseDir, 'k'), { recursive: true });
    await assert.rejects(loadSigningKeys(config({ keyFile: 'k' }), { baseDir }), (err: unknown) => isBehalfError(err, 'signing-key-invalid'));
  });

  it('rotates after rotateAfterDays and keeps the old key published for overlapSeconds', async () => {
    const c = clock();
    const baseDir = join(dir, 'rotate');
    const cfg = config({ rotateAfterDays: 30, overlapSeconds: 600 });
    const keys = await loadSigningKeys(cfg, { baseDir, now: c.now });
    const first = keys.current().kid;

    c.advance(29 * DAY);
    assert.equal(await keys.maybeRotate(), false, 'not due yet');
    assert.equal(keys.current().kid, first);

    c.advance(DAY);
    assert.equal(await keys.maybeRotate(), true);
    const second = keys.current().kid;
    assert.notEqual(second, first);
    assert.deepEqual(keys.publicJwks().keys.map((k) => k.kid), [second, first], 'new key first, old key still served');
    await signsVerifiably(keys);

    // A restart during the overlap sees the same two keys.
    const reloaded = await loadSigningKeys(cfg, { baseDir, now: c.now });
    assert.equal(reloaded.current().kid, second);
    assert.deepEqual(reloaded.publicJwks().keys.map((k) => k.kid), [second, first]);

    c.advance(599_000);
    assert.equal(keys.publicJwks().keys.length, 2, 'still inside the overlap');
    c.advance(1_000);
    assert.deepEqual(keys.publicJwks().keys.map((k) => k.kid), [second], 'dropped from the JWKS when the overlap ends');
    assert.equal(await keys.maybeRotate(), false);
    const onDisk = JSON.parse(await readFile(join(baseDir, 'keys/signing-keys.json'), 'utf8')) as { keys: { kid: string }[] };
    assert.deepEqual(onDisk.keys.map((k) => k.kid), [second], 'and from the file');
  });

  it('rotates on start when the key is overdue, and never with rotateAfterDays 0', async () => {
    const c = clock();
    const baseDir = join(dir, 'overdue');
    const first = (await loadSigningKeys(config({ rotateAfterDays: 1 }), { baseDir, now: c.now })).current().kid;
    c.advance(400 * DAY);
    const never = await loadSigningKeys(config({ rotateAfterDays: 0 }), { baseDir, now: c.now });
    assert.equal(never.current().kid, first);
    assert.equal(await never.maybeRotate(), false);
    const due = await loadSigningKeys(config({ rotateAfterDays: 1 }), { baseDir, now: c.now });
    assert.notEqual(due.current().kid, first);
  });

  it('serialises concurrent explicit rotations: every retired key stays published once', async () => {
    const baseDir = join(dir, 'concurrent');
    const keys = await loadSigningKeys(config(), { baseDir });
    await Promise.all([keys.rotate(), keys.rotate(), keys.rotate()]);
    const kids = keys.publicJwks().keys.map((k) => k.kid);
    assert.equal(kids.length, 4);
    assert.equal(new Set(kids).size, 4);
    const reloaded = await loadSigningKeys(config(), { baseDir });
    assert.deepEqual(reloaded.publicJwks().keys.map((k) => k.kid).sort(), [...kids].sort());
    assert.equal(reloaded.current().kid, keys.current().kid);
  });
});
