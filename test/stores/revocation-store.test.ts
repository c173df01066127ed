/**
 * One contract for every revocation store (memory, file, Redis), then what a file keeps, and what is Redis-specific: both keys
 * expire, share one Cluster slot, and another process's store sees the same set.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileRevocationStore } from '../../src/stores/file-revocations.js';
import { createMemoryRevocationStore } from '../../src/stores/memory-revocations.js';
import { createRedisRevocationStore } from '../../src/stores/redis-revocations.js';
import type { Revocation, RevocationStore } from '../../src/stores/types.js';
import { adminClient, keysUnder, REDIS_URL, testPrefix } from '../limit/redis-env.js';

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;

function revocation(over: Partial<Revocation> = {}): Revocation {
  return { kind: 'user', value: 'bob', at: T0, issuedBefore: T0, until: T0 + HOUR, reason: 'left the team', by: 'ops@host', ...over };
}

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'behalf-revocations-'));
  dirs.push(d);
  return d;
}

const prefix = testPrefix();
const kinds: [string, () => Promise<RevocationStore>][] = [
  ['memory', async () => createMemoryRevocationStore()],
  ['file', async () => openFileRevocationStore(join(await tempDir(), 'state', 'revocations.json'))],
  [
    'redis',
    async () => {
      const store = createRedisRevocationStore(REDIS_URL, { keyPrefix: `${prefix}${Math.random().toString(36).slice(2)}:` });
      assert.ok(await store.waitConnected(3_000), `Redis not reachable at ${REDIS_URL}`);
      return store;
    },
  ],
];

for (const [kind, open] of kinds) {
  describe(`revocation store contract: ${kind}`, () => {
    test('an added revocation is listed with every field, and replaced by one for the same target', async () => {
      const store = await open();
      try {
        assert.deepEqual(await store.list(T0), []);
        await store.add(revocation(), T0);
        assert.deepEqual(await store.list(T0 + 1), [revocation()]);
        await store.add(revocation({ until: T0 + 2 * HOUR, reason: 'again' }), T0 + 5);
        const listed = await store.list(T0 + 10);
        assert.equal(listed.length, 1);
        assert.equal(listed[0]!.reason, 'again');
        assert.equal(listed[0]!.until, T0 + 2 * HOUR);
      } finally {
        await store.close();
      }
    });

    test('kind, value and issuer each make a different target', async () => {
      const store = await open();
      try {
        await store.add(revocation(), T0);
        await store.add(revocation({ issuer: 'corp' }), T0);
        await store.add(revocation({ kind: 'client', value: 'bob' }), T0);
        await store.add(revocation({ kind: 'token', value: 'bob', issuedBefore: undefined }), T0);
        const listed = await store.list(T0);
        assert.equal(listed.length, 4);
        assert.ok(await store.remove('user', 'bob', 'corp', T0));
        assert.equal(await store.remove('user', 'bob', 'corp', T0), false, 'removing twice');
        assert.deepEqual((await store.list(T0)).map((r) => `${r.kind}:${r.issuer ?? '*'}`).sort(), ['client:*', 'token:*', 'user:*']);
      } finally {
        await store.close();
      }
    });

    test('the version changes on every change, never on a read, and not on a remove of nothing', async () => {
      const store = await open();
      try {
        const v0 = await store.version();
        await store.list(T0);
        assert.equal(await store.version(), v0);
        await store.add(revocation(), T0);
        const v1 = await store.version();
        assert.notEqual(v1, v0);
        await store.remove('user', 'nobody', undefined, T0);
        assert.equal(await store.version(), v1);
        await store.remove('user', 'bob', undefined, T0);
        assert.notEqual(await store.version(), v1);
      } finally {
        await store.close();
      }
    });

    test('a revocation past its end is no longer listed, and is dropped by the next change', async () => {
      const store = await open();
      try {
        await store.add(revocation({ value: 'short', until: T0 + 1_000 }), T0);
        await store.add(revocation({ value: 'long' }), T0);
        assert.deepEqual((await store.list(T0 + 1_001)).map((r) => r.value), ['long']);
        await store.add(revocation({ value: 'other' }), T0 + 2_000);
        assert.deepEqual((await store.list(T0)).map((r) => r.value).sort(), ['long', 'other'], 'the expired one is gone even for an earlier clock');
      } finally {
        await store.close();
      }
    });

    test('values with separators, quotes and unicode survive', async () => {
      const store = await open();
      try {
        const value = 'a:b"c\\d é {x}';
        await store.add(revocation({ value, reason: '"quoted" until:99' }), T0);
        const [r] = await store.list(T0);
        assert.equal(r!.value, value);
        assert.equal(r!.reason, '"quoted" until:99');
        assert.ok(await store.remove('user', value, undefined, T0));
      } finally {
        await store.close();
      }
    });
  });
}

describe('file revocation store', () => {
  test('a second store opened on the file sees every change; expired entries are dropped when it loads', async () => {
    const path = join(await tempDir(), 'revocations.json');
    const first = await openFileRevocationStore(path);
    await first.add(revocation(), T0);
    await first.add(revocation({ kind: 'client', value: 'agent', until: T0 + 1_000 }), T0);
    await first.close();
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const again = await openFileRevocationStore(path, { now: () => T0 + 2_000 });
    assert.deepEqual(await again.list(T0), [revocation()], 'the expired client revocation was not loaded');
    await again.close();
  });

  test('changes are written whole through a temp file that does not stay behind', async () => {
    const dir = await tempDir();
    const path = join(dir, 'revocations.json');
    const store = await openFileRevocationStore(path);
    await Promise.all(['a', 'b', 'c', 'd'].map((value) => store.add(revocation({ value }), T0)));
    await store.remove('user', 'b', undefined, T0);
    const doc = JSON.parse(await readFile(path, 'utf8')) as { version: number; revocations: Revocation[] };
    assert.equal(doc.version, 1);
    assert.deepEqual(doc.revocations.map((r) => r.value).sort(), ['a', 'c', 'd']);
    assert.deepEqual(await readdir(dir), ['revocations.json']);
    await store.close();
  });

  test('an unusable file is refused with revocation-store-failed, never read as "no revocations"', async () => {
    const path = join(await tempDir(), 'revocations.json');
    for (const [text, why] of [
      ['', /not valid JSON/],
      ['[]', /expected \{"version":1/],
      ['{"version":2,"revocations":[]}', /expected \{"version":1/],
      ['{"version":1,"revocations":[{"kind":"user","value":"","at":1,"until":2}]}', /revocations\[0\]\.value/],
      ['{"version":1,"revocations":[{"kind":"user","value":"x","at":"yesterday","until":2}]}', /revocations\[0\]\.at and \.until/],
    ] as const) {
      await writeFile(path, text);
      await assert.rejects(openFileRevocationStore(path), (err: Error & { code?: string }) => err.code === 'revocation-store-failed' && why.test(err.message) && err.message.includes(path), text);
    }
  });

  test('a change that cannot be written is refused and not kept', async () => {
    const dir = await tempDir();
    const store = await openFileRevocationStore(join(dir, 'blocker', 'revocations.json'));
    // The parent "directory" becomes a file after opening: the write fails, even for root.
    await writeFile(join(dir, 'blocker'), '');
    await assert.rejects(store.add(revocation(), T0), (err: Error & { code?: string }) => err.code === 'revocation-store-failed');
    assert.deepEqual(await store.list(T0), []);
    await store.close();
  });
});

describe('Redis revocation store', () => {
  after(async () => {
    const redis = await adminClient();
    const keys = await keysUnder(redis, prefix);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  test('both keys carry a TTL ending with the longest revocation, and share one hash tag', async () => {
    const keyPrefix = `${prefix}ttl:`;
    const store = createRedisRevocationStore(REDIS_URL, { keyPrefix });
    const redis = await adminClient();
    try {
      assert.ok(await store.waitConnected(3_000));
      const now = Date.now();
      await store.add(revocation({ at: now, until: now + 60_000 }), now);
      await store.add(revocation({ value: 'carol', at: now, until: now + 120_000 }), now);
      const keys = (await keysUnder(redis, keyPrefix)).sort();
      assert.deepEqual(keys, [`${keyPrefix}{revocations}`, `${keyPrefix}{revocations}:version`]);
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        assert.ok(ttl > 110_000 && ttl <= 120_000, `${key}: TTL ${ttl} ms`);
      }
      await store.remove('user', 'bob', undefined, now);
      await store.remove('user', 'carol', undefined, now);
      assert.equal(await redis.exists(`${keyPrefix}{revocations}`), 0, 'an empty set leaves no hash behind');
      assert.ok((await redis.pttl(`${keyPrefix}{revocations}:version`)) > 0, 'the version key still expires');
    } finally {
      redis.disconnect();
      await store.close();
    }
  });

  test('two connections (two instances) see one set', async () => {
    const keyPrefix = `${prefix}shared:`;
    const a = createRedisRevocationStore(REDIS_URL, { keyPrefix });
    const b = createRedisRevocationStore(REDIS_URL, { keyPrefix });
    try {
      assert.ok((await a.waitConnected(3_000)) && (await b.waitConnected(3_000)));
      const before = await b.version();
      await a.add(revocation(), T0);
      assert.notEqual(await b.version(), before);
      assert.deepEqual(await b.list(T0), [revocation()]);
      assert.ok(await b.remove('user', 'bob', undefined, T0));
      assert.deepEqual(await a.list(T0), []);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('an unreachable Redis rejects at once with revocation-store-failed, never hangs', async () => {
    const store = createRedisRevocationStore('redis://127.0.0.1:1/0', { connectTimeoutMs: 200 });
    try {
      const started = Date.now();
      await assert.rejects(store.list(T0), (err: Error & { code?: string }) => err.code === 'revocation-store-failed');
      await assert.rejects(store.add(revocation(), T0), (err: Error & { code?: string }) => err.code === 'revocation-store-failed');
      assert.ok(Date.now() - started < 2_000);
    } finally {
      await store.close();
    }
  });
});
