/**
 * A limit store that counts the operations the gateway runs after a response has ended (a lease
 * released, a reported cost charged), so a test can wait for them to have happened instead of
 * sleeping and hoping they did.
 */
import type { LimitStore } from '../../src/stores/types.js';

/** A count a test can wait on: `until(n)` resolves once `n` events happened (at once if they already did). */
export class EventCount {
  private n = 0;
  private readonly waiters: { n: number; resolve: () => void }[] = [];

  /** Events so far. */
  get value(): number {
    return this.n;
  }

  /** Records one event and wakes the waiters it satisfies. */
  bump(): void {
    this.n++;
    for (const w of this.waiters.filter((w) => w.n <= this.n)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
  }

  /**
   * Resolves once `n` events happened. Rejects after `timeoutMs` (default 5 s) naming `what`: a
   * safety net so that an event that never comes fails the test instead of hanging it.
   */
  until(n: number, what: string, timeoutMs = 5_000): Promise<void> {
    if (this.n >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: ${this.n} of ${n} after ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}

/** `inner` with a count of completed `release` and `addQuota` calls. */
export interface CountingStore extends LimitStore {
  readonly released: EventCount;
  readonly charged: EventCount;
}

/** Wraps `inner`; every other operation goes straight through. */
export function countingStore(inner: LimitStore): CountingStore {
  const released = new EventCount();
  const charged = new EventCount();
  return {
    kind: inner.kind,
    rate: (...a) => inner.rate(...a),
    refundRate: (...a) => inner.refundRate(...a),
    quota: (...a) => inner.quota(...a),
    addQuota: (...a) => inner.addQuota(...a).finally(() => charged.bump()),
    acquire: (...a) => inner.acquire(...a),
    renew: (...a) => inner.renew(...a),
    release: (...a) => inner.release(...a).finally(() => released.bump()),
    repeat: (...a) => inner.repeat(...a),
    forget: (...a) => inner.forget(...a),
    ping: () => inner.ping(),
    close: () => inner.close(),
    released,
    charged,
  };
}
