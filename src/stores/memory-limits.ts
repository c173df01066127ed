import type { CountOutcome, LimitStore, QuotaOutcome, RateOutcome, RateSpec } from './types.js';
import { DEFAULTS } from '../config/defaults.js';

/**
 * The limit store of one gateway process (`limits.store: memory`, the default): plain maps,
 * bounded, with expiry on the caller's clock. Several instances each keep their own counts:
 * use Redis to share them. The arithmetic is the same as the Redis scripts' (redis-limit-
 * scripts.ts), and both pass the same contract tests.
 */

/** Tolerance when comparing GCRA times, ms: absorbs float rounding of `windowMs / limit` sums. */
export const GCRA_EPSILON_MS = 0.001;

/** Default bound on the entries of each map (rate, quota, leases, repeats). */
const DEFAULT_MAX_ENTRIES = DEFAULTS.memoryLimitEntries;

/** Entries checked for expiry per insert into a full map, before the oldest is dropped. */
const SWEEP_BATCH = 64;

interface Expiring {
  /** ms since epoch on the callers' clock. */
  expiresAt: number;
}

/**
 * A Map bounded to `max` entries whose values expire. Reading or writing a key moves it to the
 * end, so when the map is full and nothing has expired, the entry untouched the longest is dropped
 * (its counter restarts from zero: a bound on memory, never a way to get more than a limit
 * allows for a key still in use).
 */
class ExpiringMap<V extends Expiring> {
  readonly #map = new Map<string, V>();
  constructor(private readonly max: number) {}

  get(key: string, now: number): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) return undefined;
    this.#map.delete(key);
    if (v.expiresAt <= now) return undefined;
    // Reading counts as use: a key refused again and again (an abuser) must not be the one dropped.
    this.#map.set(key, v);
    return v;
  }

  set(key: string, value: V, now: number): void {
    this.#map.delete(key);
    if (this.#map.size >= this.max) this.#makeRoom(now);
    this.#map.set(key, value);
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  #makeRoom(now: number): void {
    let checked = 0;
    for (const [k, v] of this.#map) {
      if (v.expiresAt <= now) this.#map.delete(k);
      if (++checked >= SWEEP_BATCH) break;
    }
    if (this.#map.size >= this.max) {
      const oldest = this.#map.keys().next();
      if (oldest.done !== true) this.#map.delete(oldest.value);
    }
  }
}

interface RateEntry extends Expiring {
  tat: number;
}
interface QuotaEntry extends Expiring {
  used: number;
}
interface LeaseEntry extends Expiring {
  /** lease id -> expiry, ms */
  leases: Map<string, number>;
}
interface RepeatEntry extends Expiring {
  /** oldest first */
  seen: { member: string; at: number }[];
}

/** Options of {@link createMemoryLimitStore}. */
export interface MemoryLimitStoreOptions {
  /** Bound on the entries of each kind (rate buckets, quota counters, lease sets, repeat logs). Default 100 000. */
  maxEntries?: number;
}

/** Creates the in-process limit store. Every method resolves at once; none ever rejects. */
export function createMemoryLimitStore(opts: MemoryLimitStoreOptions = {}): LimitStore {
  const max = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const rates = new ExpiringMap<RateEntry>(max);
  const quotas = new ExpiringMap<QuotaEntry>(max);
  const leases = new ExpiringMap<LeaseEntry>(max);
  const repeats = new ExpiringMap<RepeatEntry>(max);
  const quotaKey = (bucket: string, period: string) => `${bucket}:quota:${period}`;

  const rate = (bucket: string, spec: RateSpec, cost: number, now: number): RateOutcome => {
    const t = spec.windowMs / spec.limit;
    let tat = rates.get(bucket, now)?.tat ?? now;
    if (tat < now) tat = now;
    const newTat = tat + t * cost;
    const allowAt = newTat - t * spec.burst;
    if (allowAt - now > GCRA_EPSILON_MS) {
      return { allowed: false, remaining: 0, retryAfterMs: Math.ceil(allowAt - now), resetMs: Math.ceil(tat - now) };
    }
    const ttl = Math.max(1, Math.ceil(newTat - now));
    rates.set(bucket, { tat: newTat, expiresAt: now + ttl }, now);
    return { allowed: true, remaining: Math.floor((now - (newTat - t * spec.burst)) / t + GCRA_EPSILON_MS), retryAfterMs: 0, resetMs: ttl };
  };

  const refundRate = (bucket: string, spec: RateSpec, cost: number, now: number): void => {
    const entry = rates.get(bucket, now);
    if (entry === undefined) return;
    const tat = entry.tat - (spec.windowMs / spec.limit) * cost;
    if (tat <= now) rates.delete(bucket);
    else rates.set(bucket, { tat, expiresAt: now + Math.ceil(tat - now) }, now);
  };

  const quota = (bucket: string, period: string, limit: number, cost: number, need: number, ttlMs: number, now: number): QuotaOutcome => {
    const key = quotaKey(bucket, period);
    const used = quotas.get(key, now)?.used ?? 0;
    if (used + need > limit) return { allowed: false, used };
    if (cost > 0) quotas.set(key, { used: used + cost, expiresAt: now + ttlMs }, now);
    return { allowed: true, used: used + cost };
  };

  const addQuota = (bucket: string, period: string, delta: number, ttlMs: number, now: number): number => {
    const key = quotaKey(bucket, period);
    const used = Math.max(0, (quotas.get(key, now)?.used ?? 0) + delta);
    quotas.set(key, { used, expiresAt: now + ttlMs }, now);
    return used;
  };

  const liveLeases = (bucket: string, now: number): LeaseEntry | undefined => {
    const entry = leases.get(bucket, now);
    if (entry !== undefined) for (const [id, until] of entry.leases) if (until <= now) entry.leases.delete(id);
    return entry;
  };
  const lastExpiry = (entry: LeaseEntry) => Math.max(...entry.leases.values());

  const acquire = (bucket: string, limit: number, leaseId: string, leaseMs: number, now: number): CountOutcome => {
    const entry = liveLeases(bucket, now) ?? { leases: new Map<string, number>(), expiresAt: 0 };
    if (entry.leases.size >= limit) return { allowed: false, count: entry.leases.size, retryAfterMs: 0 };
    entry.leases.set(leaseId, now + leaseMs);
    entry.expiresAt = lastExpiry(entry);
    leases.set(bucket, entry, now);
    return { allowed: true, count: entry.leases.size, retryAfterMs: 0 };
  };

  const renew = (bucket: string, leaseId: string, leaseMs: number, now: number): boolean => {
    const entry = liveLeases(bucket, now);
    if (entry === undefined || !entry.leases.has(leaseId)) return false;
    entry.leases.set(leaseId, now + leaseMs);
    entry.expiresAt = lastExpiry(entry);
    leases.set(bucket, entry, now);
    return true;
  };

  const release = (bucket: string, leaseId: string): void => {
    const entry = leases.get(bucket, -Infinity);
    if (entry === undefined) return;
    entry.leases.delete(leaseId);
    if (entry.leases.size === 0) leases.delete(bucket);
  };

  const repeat = (bucket: string, limit: number, windowMs: number, member: string, now: number): CountOutcome => {
    const entry = repeats.get(bucket, now) ?? { seen: [], expiresAt: 0 };
    // Entries exactly `windowMs` old have left the window (as ZREMRANGEBYSCORE -inf now-window does).
    while (entry.seen.length > 0 && entry.seen[0]!.at <= now - windowMs) entry.seen.shift();
    if (entry.seen.length >= limit) {
      return { allowed: false, count: entry.seen.length, retryAfterMs: Math.ceil(entry.seen[0]!.at + windowMs - now) };
    }
    entry.seen.push({ member, at: now });
    entry.expiresAt = now + Math.ceil(windowMs);
    repeats.set(bucket, entry, now);
    return { allowed: true, count: entry.seen.length, retryAfterMs: 0 };
  };

  const forget = (bucket: string, member: string): void => {
    const entry = repeats.get(bucket, -Infinity);
    if (entry === undefined) return;
    entry.seen = entry.seen.filter((s) => s.member !== member);
  };

  return {
    kind: 'memory',
    rate: async (...a) => rate(...a),
    refundRate: async (...a) => refundRate(...a),
    quota: async (...a) => quota(...a),
    addQuota: async (...a) => addQuota(...a),
    acquire: async (...a) => acquire(...a),
    renew: async (...a) => renew(...a),
    release: async (...a) => release(...a),
    repeat: async (...a) => repeat(...a),
    forget: async (...a) => forget(...a),
    ping: async () => undefined,
    async close() {
      rates.clear();
      quotas.clear();
      leases.clear();
      repeats.clear();
    },
  };
}
