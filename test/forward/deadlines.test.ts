import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DeadlineList } from '../../src/lib/deadlines.js';

/** An entry that records when it expired; `expired` resolves then. */
function entry() {
  let resolve!: (at: number) => void;
  const expired = new Promise<number>((r) => (resolve = r));
  const e = { at: undefined as number | undefined, expire: () => resolve((e.at = performance.now())), expired };
  return e;
}

describe('DeadlineList (the forwarder\'s whole-exchange bound)', () => {
  // The list's timer is unref'd (the forwarder's sockets keep a gateway up); here nothing else would.
  let hold: NodeJS.Timeout;
  beforeEach(() => {
    hold = setInterval(() => {}, 1_000);
  });
  afterEach(() => clearInterval(hold));

  it('expires every entry not cancelled, oldest first, never before its deadline', async () => {
    const list = new DeadlineList(30);
    const order: string[] = [];
    const [a, b, c] = [entry(), entry(), entry()];
    const da = list.add({ expire: () => (order.push('a'), a.expire()) });
    const db = list.add({ expire: () => (order.push('b'), b.expire()) });
    list.add({ expire: () => (order.push('c'), c.expire()) });
    db.cancel();
    await Promise.all([a.expired, c.expired]);
    assert.deepEqual(order, ['a', 'c'], 'the cancelled entry expired, or the order is wrong');
    assert.ok(a.at! >= da.at, 'an entry expired before its deadline');
    assert.equal(list.size, 0);
  });

  it('serves entries added after the first one fell due, with the one timer re-armed', async () => {
    const list = new DeadlineList(20);
    const first = entry();
    list.add(first);
    await first.expired;
    const later = entry();
    const d = list.add(later);
    const at = await later.expired;
    assert.ok(at >= d.at);
  });

  it('keeps serving after the entry its timer was armed for is cancelled', async () => {
    const list = new DeadlineList(20);
    list.add({ expire: () => assert.fail('a cancelled entry expired') }).cancel();
    const next = entry();
    const d = list.add(next);
    assert.ok((await next.expired) >= d.at);
    // Cancelling twice, or after expiry, changes nothing.
    d.cancel();
    d.cancel();
    assert.equal(list.size, 0);
  });

  it('lets an expiring entry add another entry to the same list', async () => {
    const list = new DeadlineList(15);
    const second = entry();
    list.add({ expire: () => void list.add(second) });
    await second.expired;
    assert.equal(list.size, 0);
  });
});
