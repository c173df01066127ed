/**
 * The contract every audit store passes (src/stores/types.ts `AuditStore`): run by
 * audit-contract-file.test.ts against the embedded store and by audit-contract-postgres.test.ts
 * against PostgreSQL. Tampering is done the way someone with access to the storage would do it
 * (editing a line / UPDATE, removing one / DELETE), through the harness.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeRecordHash, sealRecord } from '../../src/audit/chain.js';
import type { AuditRecord, StoredAuditRecord } from '../../src/audit/record.js';
import { isBehalfError } from '../../src/errors.js';
import type { AuditQuery, AuditStore } from '../../src/stores/types.js';
import { rec } from '../audit/helpers.js';

/** One empty trail of the store under test. */
export interface TrailUnderTest {
  /** A writer on this trail. */
  open(): Promise<AuditStore>;
  /** A read-only store on this trail. */
  openReader(): Promise<AuditStore>;
  /**
   * Change fields of stored record `seq` in place (and, with `rehash`, give it the hash of its
   * new content, as a careful forger would). Writers are closed.
   */
  edit(seq: number, set: Record<string, unknown>, opts?: { rehash?: boolean }): Promise<void>;
  /** Remove stored record `seq`. Writers are closed. */
  remove(seq: number): Promise<void>;
  /** Exchange the storage positions of records `a` and `b`. Writers are closed. */
  swap(a: number, b: number): Promise<void>;
}

/** How to make fresh trails of one store kind. */
export interface AuditStoreHarness {
  readonly name: string;
  fresh(): Promise<TrailUnderTest>;
}

async function all(store: AuditStore, q: AuditQuery = {}): Promise<StoredAuditRecord[]> {
  const out: StoredAuditRecord[] = [];
  for await (const r of store.query(q)) out.push(r);
  return out;
}

/** A closed trail of records 1..n, appended in a few batches. */
async function filled(h: AuditStoreHarness, n: number): Promise<TrailUnderTest> {
  const trail = await h.fresh();
  const w = await trail.open();
  await w.append(Array.from({ length: n }, (_, k) => rec(k + 1)));
  await w.close();
  return trail;
}

const strip = ({ seq: _s, prev: _p, hash: _h, ...r }: StoredAuditRecord): AuditRecord => r;

/** Register the contract tests for `h`. */
export function auditStoreContract(h: AuditStoreHarness): void {
  // A bounded time per test, so a store that stops answering fails instead of hanging the run.
  const t = (name: string, fn: () => Promise<void>) => test(`${h.name}: ${name}`, { timeout: 30_000 }, fn);

  t('append resolves at both durabilities; records come back in order, unchanged, seq 1.. with prev links', async () => {
    const trail = await h.fresh();
    const w = await trail.open();
    await Promise.all([w.append([rec(1), rec(2)], { durability: 'written' }), w.append([rec(3)], { durability: 'synced' }), w.append([rec(4)])]);
    const got = await all(w);
    assert.deepEqual(got.map(strip), [rec(1), rec(2), rec(3), rec(4)]);
    assert.deepEqual(got.map((r) => r.seq), [1, 2, 3, 4]);
    for (const [i, r] of got.entries()) {
      assert.equal(r.prev, i === 0 ? '' : got[i - 1]!.hash);
      assert.equal(r.hash, computeRecordHash(r as unknown as Record<string, unknown>));
    }
    await w.close();
  });

  t('hashes are those of chain.ts: the same records get the same seq, prev and hash in every store', async () => {
    const trail = await filled(h, 5);
    let prev = { seq: 0, hash: '' };
    const want: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const s = sealRecord(rec(i), prev.seq, prev.hash);
      want.push(s.hash);
      prev = s;
    }
    const r = await trail.openReader();
    assert.deepEqual((await all(r)).map((x) => x.hash), want);
    await r.close();
  });

  t('an empty trail verifies as 0 records and queries nothing', async () => {
    const trail = await h.fresh();
    const w = await trail.open();
    assert.deepEqual(await w.verify(), { ok: true, records: 0 });
    assert.deepEqual(await all(w), []);
    assert.deepEqual(await all(w, { limit: 3 }), []);
    await w.close();
  });

  t('query filters by user, route, tool, decision, reason and time, exactly, combined with AND', async () => {
    const trail = await h.fresh();
    const w = await trail.open();
    await w.append([...Array.from({ length: 12 }, (_, k) => rec(k + 1)), rec(13, { route: undefined, tool: 'hr.add_review', method: 'POST', path: '/mcp' }), rec(14, { user: 'alic' })]);
    const seqs = async (q: AuditQuery) => (await all(w, q)).map((r) => r.seq);
    assert.deepEqual(await seqs({ user: 'mallory' }), [4, 8, 12]);
    assert.deepEqual(await seqs({ user: 'ali' }), [], 'no prefix matching');
    assert.deepEqual(await seqs({ decision: 'deny' }), [4, 8, 12]);
    assert.deepEqual(await seqs({ decision: 'allow', user: 'bob' }), [2, 6, 10]);
    assert.deepEqual(await seqs({ reason: 'denied-by-rule', user: 'mallory' }), [4, 8, 12]);
    assert.deepEqual(await seqs({ tool: 'hr.add_review' }), [13]);
    assert.deepEqual((await seqs({ route: 'hr' })).length, 13);
    const at = (s: number) => new Date(Date.UTC(2025, 4, 1, 10, 0, s));
    assert.deepEqual(await seqs({ since: at(3), until: at(6) }), [3, 4, 5], 'since inclusive, until exclusive');
    assert.deepEqual(await seqs({ since: at(11), user: 'carol' }), [11]);
    assert.deepEqual(await seqs({ user: 'nobody' }), []);
    await w.close();
  });

  t('query limit keeps the newest N matches, still oldest first', async () => {
    const trail = await filled(h, 30);
    const r = await trail.openReader();
    assert.deepEqual((await all(r, { limit: 3 })).map((x) => x.seq), [28, 29, 30]);
    assert.deepEqual((await all(r, { user: 'alice', limit: 2 })).map((x) => x.seq), [25, 29]);
    assert.deepEqual((await all(r, { decision: 'deny', limit: 100 })).map((x) => x.seq), [4, 8, 12, 16, 20, 24, 28]);
    await r.close();
  });

  t('values a database may not hold as they are (NUL, lone surrogates, quotes) round-trip and match exactly', async () => {
    const trail = await h.fresh();
    const w = await trail.open();
    const odd = ['nul\u0000user', 'lone\ud800x', 'nul\ufffduser', `q"u'o\\te{,}`, 'émile 🙂'];
    // In one batch with an ordinary record: one odd value must not cost the others their record.
    await w.append([rec(1), ...odd.map((user, k) => rec(k + 2, { user, detail: user }))]);
    const got = await all(w);
    assert.deepEqual(got.map((r) => r.user), ['alice', ...odd]);
    for (const [k, user] of odd.entries()) assert.deepEqual((await all(w, { user })).map((r) => r.seq), [k + 2], JSON.stringify(user));
    assert.deepEqual((await w.verify()).ok, true);
    await w.close();
  });

  t('a reader opened next to the running writer sees every append that resolved', async () => {
    const trail = await h.fresh();
    const w = await trail.open();
    await w.append([rec(1), rec(2)]);
    const r = await trail.openReader();
    assert.deepEqual((await all(r)).map((x) => x.requestId), ['req-1', 'req-2']);
    await w.append([rec(3)], { durability: 'written' });
    assert.deepEqual((await all(r)).map((x) => x.requestId), ['req-1', 'req-2', 'req-3']);
    assert.equal((await r.verify()).records, 3);
    await r.close();
    await w.close();
  });

  t('a read-only store refuses appends with audit-write-failed', async () => {
    const trail = await filled(h, 1);
    const r = await trail.openReader();
    await assert.rejects(r.append([rec(2)]), (e) => isBehalfError(e, 'audit-write-failed'));
    assert.equal((await all(r)).length, 1);
    await r.close();
  });

  t('a writer opened again continues the chain', async () => {
    const trail = await filled(h, 3);
    const w = await trail.open();
    await w.append([rec(4)]);
    await w.close();
    const r = await trail.openReader();
    assert.deepEqual((await all(r)).map((x) => x.seq), [1, 2, 3, 4]);
    assert.deepEqual(await r.verify(), { ok: true, records: 4 });
    await r.close();
  });

  const tampered = (name: string, tamper: (trail: TrailUnderTest) => Promise<void>, expect: { kind: string; seq: number; records: number }) =>
    t(`verify detects ${name}`, async () => {
      const trail = await filled(h, 8);
      await tamper(trail);
      const r = await trail.openReader();
      const result = await r.verify();
      assert.equal(result.ok, false, `tampering went unnoticed: ${JSON.stringify(result)}`);
      assert.equal(result.problem?.kind, expect.kind, JSON.stringify(result.problem));
      assert.equal(result.problem?.seq, expect.seq, JSON.stringify(result.problem));
      assert.equal(result.records, expect.records);
      await r.close();
    });
  tampered('an edited record', (x) => x.edit(5, { user: 'bob', decision: 'allow' }), { kind: 'edited', seq: 5, records: 4 });
  tampered('a record rewritten with a recomputed hash', (x) => x.edit(5, { decision: 'deny' }, { rehash: true }), { kind: 'edited', seq: 5, records: 5 });
  tampered('a deleted record', (x) => x.remove(3), { kind: 'deleted', seq: 3, records: 2 });
  tampered('reordered records', (x) => x.swap(4, 5), { kind: 'reordered', seq: 4, records: 3 });
  tampered('the newest record cut off the end', (x) => x.remove(8), { kind: 'truncated', seq: 8, records: 7 });

  t('follow yields the newest N, then each new record as it is appended, until aborted', async () => {
    const trail = await filled(h, 5);
    const w = await trail.open();
    const r = await trail.openReader();
    const stop = new AbortController();
    const it = r.follow!({ last: 2, signal: stop.signal })[Symbol.asyncIterator]();
    const next = async (): Promise<number | undefined> => (await it.next()).value?.seq;
    // The first two come from before the appends below: follow has fixed where "new" starts.
    assert.deepEqual([await next(), await next()], [4, 5]);
    await w.append([rec(6)]);
    const sixth = await next();
    await w.append([rec(7)]);
    assert.deepEqual([sixth, await next()], [6, 7]);
    stop.abort();
    assert.equal((await it.next()).done, true, 'follow ends when aborted');
    await r.close();
    await w.close();
  });

  t('close waits for appends nobody awaited; append after close rejects', async () => {
    const trail = await h.fresh();
    const w = await trail.open();
    const pending = Array.from({ length: 50 }, (_, k) => w.append([rec(k + 1)], { durability: 'written' }));
    await w.close();
    await Promise.all(pending);
    await w.close();
    await assert.rejects(w.append([rec(51)]), (e) => isBehalfError(e, 'audit-write-failed'));
    const r = await trail.openReader();
    assert.deepEqual(await r.verify(), { ok: true, records: 50 });
    await r.close();
  });
}
