/**
 * One contract for every approval store (memory, Redis, PostgreSQL): open finds or creates,
 * decisions only on pending approvals, single use bound to the request, expiry; then what the
 * shared ones promise: two gateway processes' stores see one set, concurrent uses have exactly
 * one winner, concurrent opens of one request open one approval, and an unreachable store fails
 * at once with approval-store-failed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { createMemoryApprovalStore } from '../../src/stores/memory-approvals.js';
import { createPostgresApprovalStore } from '../../src/stores/postgres-approvals.js';
import { createRedisApprovalStore } from '../../src/stores/redis-approvals.js';
import type { ApprovalRequest, ApprovalStore } from '../../src/stores/types.js';
import { freshSchema, PG_URL, sql } from '../audit/postgres-helpers.js';
import { adminClient, keysUnder, REDIS_URL, testPrefix } from '../limit/redis-env.js';

// Real time: Redis expires keys by its own clock.
const T0 = Date.now();
const MIN = 60_000;

function request(over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    id: randomBytes(16).toString('base64url'),
    binding: 'binding-add-review-bob',
    ruleId: 'manager-adds-review',
    user: 'alice',
    client: 'chatgpt',
    target: 'tool add_review',
    arguments: '{"employee":"bob","rating":"meets"}',
    reason: 'a review needs the manager of the manager',
    approvers: { users: ['dana'], roles: ['hr-admin'], groups: [] },
    createdAt: T0,
    expiresAt: T0 + 15 * MIN,
    validMs: 10 * MIN,
    ...over,
  };
}

const prefix = testPrefix();
const redisStore = async () => {
  const store = createRedisApprovalStore(REDIS_URL, { keyPrefix: `${prefix}${Math.random().toString(36).slice(2)}:` });
  assert.ok(await store.waitConnected(3_000), `Redis not reachable at ${REDIS_URL}`);
  return store;
};
const postgresStore = async () => createPostgresApprovalStore((await freshSchema()).url);
const kinds: [string, () => Promise<ApprovalStore>][] = [
  ['memory', async () => createMemoryApprovalStore()],
  ['redis', redisStore],
  ['postgres', postgresStore],
];

after(async () => {
  const redis = await adminClient();
  const keys = await keysUnder(redis, prefix);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

for (const [kind, open] of kinds) {
  describe(`approval store contract: ${kind}`, () => {
    const withStore = (fn: (store: ApprovalStore) => Promise<void>) => async () => {
      const store = await open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    };

    test('open stores a pending approval with every field, and a second open of the same request returns it', withStore(async (store) => {
      const first = request();
      const opened = await store.open(first, T0);
      assert.equal(opened.created, true);
      assert.deepEqual(opened.approval, { ...first, state: 'pending' });
      assert.deepEqual(await store.get(first.id, T0 + 1), { ...first, state: 'pending' });
      const again = await store.open(request(), T0 + 2);
      assert.equal(again.created, false);
      assert.equal(again.approval.id, first.id, 'a retried call never asks twice');
      const other = await store.open(request({ binding: 'binding-add-review-carol' }), T0 + 3);
      assert.equal(other.created, true, 'another request (another binding) is another approval');
      assert.deepEqual(new Set((await store.list(T0 + 4)).map((a) => a.id)), new Set([other.approval.id, first.id]));
    }));

    test('approve once: the decision is kept with who and when, and a second decision is refused', withStore(async (store) => {
      const { approval } = await store.open(request(), T0);
      const decided = await store.decide(approval.id, 'approved', 'dana', T0 + 1_000, 'fine');
      assert.equal(decided.ok, true);
      assert.equal(decided.approval?.state, 'approved');
      assert.equal(decided.approval?.decidedBy, 'dana');
      assert.equal(decided.approval?.decidedAt, T0 + 1_000);
      assert.equal(decided.approval?.note, 'fine');
      assert.equal(decided.approval?.usableUntil, T0 + 1_000 + 10 * MIN);
      const twice = await store.decide(approval.id, 'denied', 'erin', T0 + 2_000);
      assert.equal(twice.ok, false);
      assert.equal(twice.approval?.state, 'approved', 'the first decision stands');
      assert.deepEqual(await store.decide('no-such-approval-id-000', 'approved', 'dana', T0), { ok: false });
    }));

    test('an approved approval is used once, only by its own request, and then a new request opens a new approval', withStore(async (store) => {
      const { approval } = await store.open(request(), T0);
      assert.equal(await store.use(approval.id, approval.binding, T0 + 1), undefined, 'not approved yet');
      await store.decide(approval.id, 'approved', 'dana', T0 + 2);
      assert.equal(await store.use(approval.id, 'binding-add-review-carol', T0 + 3), undefined, 'another request');
      const reopened = await store.open(request(), T0 + 4);
      assert.equal(reopened.created, false);
      assert.equal(reopened.approval.state, 'approved', 'open finds the approved one for the retried call');
      const used = await store.use(approval.id, approval.binding, T0 + 5);
      assert.equal(used?.state, 'used');
      assert.equal(used?.usedAt, T0 + 5);
      assert.equal(await store.use(approval.id, approval.binding, T0 + 6), undefined, 'single use');
      const next = await store.open(request(), T0 + 7);
      assert.equal(next.created, true, 'the same call again needs a new approval');
      assert.notEqual(next.approval.id, approval.id);
    }));

    test('a denial answers for its request until the deadline; then the request may be asked again', withStore(async (store) => {
      const { approval } = await store.open(request(), T0);
      assert.equal((await store.decide(approval.id, 'denied', 'dana', T0 + 1)).ok, true);
      const retried = await store.open(request(), T0 + 2);
      assert.equal(retried.created, false);
      assert.equal(retried.approval.state, 'denied');
      assert.equal(await store.use(approval.id, approval.binding, T0 + 3), undefined);
      const later = await store.open(request(), T0 + 15 * MIN);
      assert.equal(later.created, true);
    }));

    test('expiry: a pending approval past its deadline cannot be decided; an approved one past its use-by time cannot be used', withStore(async (store) => {
      const { approval } = await store.open(request(), T0);
      assert.equal((await store.get(approval.id, T0 + 15 * MIN))?.state, 'expired');
      const late = await store.decide(approval.id, 'approved', 'dana', T0 + 15 * MIN);
      assert.equal(late.ok, false);
      assert.equal(late.approval?.state, 'expired');

      const second = (await store.open(request({ binding: 'b2' }), T0)).approval;
      await store.decide(second.id, 'approved', 'dana', T0 + MIN);
      assert.equal(await store.use(second.id, 'b2', T0 + 11 * MIN), undefined, 'used after its use-by time');
      assert.equal((await store.get(second.id, T0 + 11 * MIN))?.state, 'expired');
    }));

    test('an approval is forgotten an hour after it ended; unknown and malformed ids are simply unknown', withStore(async (store) => {
      const { approval } = await store.open(request(), T0);
      assert.ok(await store.get(approval.id, T0 + 15 * MIN + 59 * MIN));
      assert.equal(await store.get(approval.id, T0 + 15 * MIN + 61 * MIN), undefined);
      assert.equal(await store.get('does-not-exist-at-all-000', T0), undefined);
      assert.equal(await store.get('../../etc', T0), undefined);
      assert.equal(await store.use('*', 'x', T0), undefined);
    }));
  });
}

describe('approval store: PostgreSQL across processes', () => {
  test('two stores on one schema: concurrent opens of one request open one approval, and of concurrent uses exactly one wins', async () => {
    const { url } = await freshSchema();
    const one = createPostgresApprovalStore(url);
    const two = createPostgresApprovalStore(url);
    try {
      const opened = await Promise.all([one.open(request(), T0), two.open(request(), T0), one.open(request(), T0), two.open(request(), T0)]);
      assert.equal(opened.filter((o) => o.created).length, 1, 'one approval for one request');
      assert.equal(new Set(opened.map((o) => o.approval.id)).size, 1);
      const id = opened[0]!.approval.id;
      assert.equal((await two.decide(id, 'approved', 'dana', T0 + 1)).ok, true);
      const uses = await Promise.all([one.use(id, 'binding-add-review-bob', T0 + 2), two.use(id, 'binding-add-review-bob', T0 + 2), one.use(id, 'binding-add-review-bob', T0 + 2)]);
      assert.equal(uses.filter((u) => u !== undefined).length, 1);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('an unreachable database rejects with approval-store-failed, naming no password', async () => {
    const u = new URL(PG_URL);
    u.port = '1';
    u.password = 'not-this-secret';
    u.searchParams.set('connect_timeout', '1');
    const store = createPostgresApprovalStore(u.toString());
    try {
      await assert.rejects(store.open(request(), T0), (err: Error & { code?: string }) => err.code === 'approval-store-failed' && !err.message.includes('not-this-secret'));
    } finally {
      await store.close();
    }
  });
});

describe('approval store: a damaged entry is never trusted', () => {
  test('Redis: a hash whose request names another id or binding, or holds no JSON, reads as unknown and cannot be used', async () => {
    const keyPrefix = `${prefix}damaged${Math.random().toString(36).slice(2)}:`;
    const store = createRedisApprovalStore(REDIS_URL, { keyPrefix });
    const redis = await adminClient();
    try {
      assert.ok(await store.waitConnected(3_000));
      const { approval } = await store.open(request(), T0);
      await store.decide(approval.id, 'approved', 'dana', T0 + 1);
      const key = `${keyPrefix}{approvals}:a:${approval.id}`;
      await redis.hset(key, 'req', JSON.stringify({ ...request(), id: 'some-other-approval-id-00' }));
      assert.equal(await store.get(approval.id, T0 + 2), undefined, 'another id inside');
      assert.equal(await store.use(approval.id, approval.binding, T0 + 2), undefined, 'and so it cannot be used');
      await redis.hset(key, 'req', '{not json');
      assert.equal(await store.get(approval.id, T0 + 2), undefined, 'no JSON');
      await redis.hset(key, 'req', JSON.stringify({ ...request(), id: approval.id }), 'state', 'granted-by-attacker');
      assert.equal(await store.get(approval.id, T0 + 2), undefined, 'a state that is never stored');
    } finally {
      redis.disconnect();
      await store.close();
    }
  });

  test('PostgreSQL: a row whose request names another binding reads as unknown', async () => {
    const { url, schema } = await freshSchema();
    const store = createPostgresApprovalStore(url);
    try {
      const { approval } = await store.open(request(), T0);
      await sql(`UPDATE "${schema}".behalf_approvals SET request = jsonb_set(request, '{binding}', '"another-binding"') WHERE id = $1`, [approval.id]);
      assert.equal(await store.get(approval.id, T0 + 1), undefined);
      assert.deepEqual(await store.list(T0 + 1), []);
    } finally {
      await store.close();
    }
  });
});

describe('approval store: Redis across processes', () => {
  test('an approval given through one instance is used through another, and of concurrent uses exactly one wins', async () => {
    const keyPrefix = `${prefix}shared${Math.random().toString(36).slice(2)}:`;
    const one = createRedisApprovalStore(REDIS_URL, { keyPrefix });
    const two = createRedisApprovalStore(REDIS_URL, { keyPrefix });
    try {
      assert.ok(await one.waitConnected(3_000));
      assert.ok(await two.waitConnected(3_000));
      const { approval } = await one.open(request(), T0);
      assert.equal((await two.open(request(), T0 + 1)).approval.id, approval.id);
      assert.equal((await two.decide(approval.id, 'approved', 'dana', T0 + 2)).ok, true);
      const uses = await Promise.all([one.use(approval.id, approval.binding, T0 + 3), two.use(approval.id, approval.binding, T0 + 3), one.use(approval.id, approval.binding, T0 + 3)]);
      assert.equal(uses.filter((u) => u !== undefined).length, 1);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('an unreachable Redis rejects with approval-store-failed, at once', async () => {
    const store = createRedisApprovalStore('redis://127.0.0.1:1', { connectTimeoutMs: 200 });
    try {
      await assert.rejects(store.open(request(), T0), (err: Error & { code?: string }) => err.code === 'approval-store-failed');
    } finally {
      await store.close();
    }
  });
});
