/**
 * Remembers assertion ids (`jti`) until their assertion expires, so a captured assertion cannot be
 * replayed to the same backend. When a backend runs several instances they must share one:
 * `createRedisReplayCache` from `behalf/stores/redis` (kept out of `behalf/backend`, which
 * depends on jose only).
 */
export interface ReplayCache {
  /**
   * Records `jti` and says whether it had already been recorded and not yet expired.
   * `expiresAt` is epoch seconds: after it the entry may be forgotten (the assertion's `exp` plus
   * the verifier's clock tolerance, so a forgotten id also fails the expiry check).
   * Returns `true` for a replay. Throws (or rejects) when it cannot tell: the verifier then refuses
   * the assertion with `replay-cache-failed`.
   */
  seen(jti: string, expiresAt: number): boolean | Promise<boolean>;
}

/** Default bound of {@link createMemoryReplayCache}: 100 000 ids, about 1 600 requests/s over a 60 s window. */
export const DEFAULT_REPLAY_CACHE_ENTRIES = 100_000;

/**
 * A process-local {@link ReplayCache}. `maxEntries` (default 100 000) bounds memory; `now` is the
 * clock in epoch milliseconds (default `Date.now`).
 *
 * This does NOT detect replays across processes or hosts: with several backend instances behind
 * a load balancer, use a shared store. When more than `maxEntries` unexpired ids are held, the
 * oldest are forgotten, so size it above (requests per second) x (assertion TTL + tolerance).
 */
export function createMemoryReplayCache(opts: { maxEntries?: number; now?: () => number } = {}): ReplayCache {
  const max = Math.max(1, opts.maxEntries ?? DEFAULT_REPLAY_CACHE_ENTRIES);
  const now = opts.now ?? Date.now;
  // Insertion order is close to expiry order (every assertion lives about the same time), so
  // expired ids are dropped from the front: amortised O(1) per call, no timer.
  const ids = new Map<string, number>();
  return {
    seen(jti, expiresAt) {
      const t = now() / 1_000;
      for (const [id, exp] of ids) {
        if (exp > t) break;
        ids.delete(id);
      }
      const known = ids.get(jti);
      if (known !== undefined && known > t) return true;
      ids.set(jti, expiresAt);
      for (const id of ids.keys()) {
        if (ids.size <= max) break;
        ids.delete(id);
      }
      return false;
    },
  };
}
