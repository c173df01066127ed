// The scale-out cases of `npm run bench` (run.ts starts their processes and measures them):
//   (l) the limit stage: the (c) gateway plus three limit rules that every request passes and
//       none refuses (a GCRA rate, a daily quota and a concurrency bound, all per user), on the
//       memory store and on Redis, against the same gateway without limits;
//   (i) instances: two `behalf serve` processes (same config, shared signing key file, an
//       embedded audit store each) behind the load generator's round-robin of connections,
//       against one of them alone, with the same upstream.
// With (l), also what one check costs when the Redis limit store cannot be reached.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { isBehalfError } from '../src/errors.js';
import { createRedisLimitStore } from '../src/stores/redis.js';
import type { LoadResult } from './load.js';

/** The Redis of the (l) Redis case: BEHALF_BENCH_REDIS_URL, default the local server. */
export const BENCH_REDIS_URL = process.env['BEHALF_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';

/** A fresh key prefix, so a run never meets an earlier run's buckets. */
export const benchKeyPrefix = (): string => `behalf-bench:${randomBytes(4).toString('hex')}:`;

/**
 * The `limits:` section of the (l) cases. Limits far above what the benchmark sends, so every
 * request pays for all three checks (and the concurrency slot's release) and none is refused;
 * `onStoreError: deny`, so an unreachable Redis shows up as non-2xx answers, not as a fast run.
 */
export function limitsYaml(store: string, keyPrefix: string): string {
  return `limits:
  store: "${store}"
  onStoreError: deny
  keyPrefix: "${keyPrefix}"
  rules:
    - { id: rate-per-user, key: [user], rate: { limit: 1000000000, windowSeconds: 60 } }
    - { id: quota-per-user, key: [user], quota: { limit: 1000000000, period: day } }
    - { id: in-flight-per-user, key: [user], concurrency: 1000 }
`;
}

/**
 * Fails with instructions when the (l) Redis case has no Redis to talk to. Resolves the server's
 * pid when it runs on this machine (its CPU per request is reported), else undefined.
 */
export async function requireRedis(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pid = Number(/^process_id:(\d+)/m.exec(await redis.info('server'))?.[1]);
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    return comm.startsWith('redis') ? pid : undefined;
  } catch (err) {
    throw new Error(`the (l) Redis case needs Redis at ${url} (${(err as Error).message}); start it or set BEHALF_BENCH_REDIS_URL, or leave out --targets l`);
  } finally {
    redis.disconnect();
  }
}

/** Removes the keys a run left under `prefix` (quota counters live until the end of the day). */
export async function dropKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Latency of a check against a Redis limit store that cannot be reached, ms. */
export interface UnreachableStoreTimes {
  readonly checks: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * Times `checks` rate checks, one after the other, against a Redis limit store whose port has
 * nothing listening (the store keeps redialling meanwhile). The store does not queue a command
 * while its connection is down, so each check should be refused at once: it must not wait for a
 * reconnection or a command timeout (500 ms) before the limiter applies `limits.onStoreError`.
 * In process, on the store alone: no gateway, no network round trip.
 */
export async function measureUnreachableStore(checks = 2_000): Promise<UnreachableStoreTimes> {
  const store = createRedisLimitStore('redis://127.0.0.1:1/0', { keyPrefix: 'behalf-bench-down:', connectTimeoutMs: 200 });
  const spec = { limit: 1, windowMs: 1_000, burst: 1 };
  const times: number[] = [];
  try {
    if (await store.waitConnected(100)) throw new Error('something listens on 127.0.0.1:1: the unreachable-store case needs that port closed');
    // The first checks also pay for compiling this code path: 10% of warm-up, not counted.
    for (let i = -Math.ceil(checks / 10); i < checks; i++) {
      const t0 = performance.now();
      await store.rate('down:{bench}', spec, 1, Date.now()).then(
        () => Promise.reject(new Error('an unreachable store answered a check')),
        (err: unknown) => (isBehalfError(err, 'limit-store-failed') ? undefined : Promise.reject(err)),
      );
      if (i >= 0) times.push(performance.now() - t0);
    }
  } finally {
    await store.close();
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { checks, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: times.at(-1)! };
}

/** Target names of the scale-out cases, as run.ts labels them. */
export const SCALE_TARGETS = {
  noLimits: '(l) no limits',
  memory: '(l) mem limits',
  redis: '(l) redis limits',
  one: '(i) 1 instance',
  two: '(i) 2 instances',
} as const;

type Results = Record<string, Record<number, LoadResult>>;

/** The comparisons of the scale-out cases that ran (and the unreachable-store times): printed, and returned for the JSON. */
export function printScaleComparisons(results: Results, unreachable?: UnreachableStoreTimes): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  const none = results[SCALE_TARGETS.noLimits];
  const lines: string[] = [];
  const signed = (v: number, digits: number) => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
  for (const [key, name] of [['memory', SCALE_TARGETS.memory], ['redis', SCALE_TARGETS.redis]] as const) {
    const l = results[name];
    if (none === undefined || l === undefined) continue;
    const parts: string[] = [];
    if (none[32] !== undefined && l[32] !== undefined) {
      out[`${key}RpsOverNoLimits32`] = l[32].rps / none[32].rps;
      out[`${key}CpuAddedUs32`] = (l[32].cpuUsPerRequest ?? NaN) - (none[32].cpuUsPerRequest ?? NaN);
      parts.push(`req/s at 32 conn x${out[`${key}RpsOverNoLimits32`]!.toFixed(2)} (${signed(l[32].rps - none[32].rps, 0)})`, `cpu ${signed(out[`${key}CpuAddedUs32`]!, 0)} us/req`);
    }
    if (none[1] !== undefined && l[1] !== undefined) {
      out[`${key}P50AddedMs1`] = l[1].p50Ms - none[1].p50Ms;
      parts.push(`p50 at 1 conn ${signed(out[`${key}P50AddedMs1`]!, 3)} ms`);
    }
    if (parts.length > 0) lines.push(`(l) 3 limit rules, ${key.padEnd(6)} store vs none: ${parts.join('   ')}`);
  }
  const one = results[SCALE_TARGETS.one]?.[32], two = results[SCALE_TARGETS.two]?.[32];
  if (one !== undefined && two !== undefined) {
    out['twoOverOneInstanceRps32'] = two.rps / one.rps;
    lines.push(`(i) 2 instances / 1 instance req/s at 32 conn: ${out['twoOverOneInstanceRps32'].toFixed(2)}   p50 ${one.p50Ms.toFixed(3)} -> ${two.p50Ms.toFixed(3)} ms   cpu ${(one.cpuUsPerRequest ?? NaN).toFixed(0)} -> ${(two.cpuUsPerRequest ?? NaN).toFixed(0)} us/req (both instances)`);
  }
  if (unreachable !== undefined) {
    out['unreachableRedisCheckP50Ms'] = unreachable.p50Ms;
    out['unreachableRedisCheckMaxMs'] = unreachable.maxMs;
    const ms = (v: number) => `${v.toFixed(3)} ms`;
    lines.push(`(l) a check against an unreachable Redis store: refused in p50 ${ms(unreachable.p50Ms)}, p99 ${ms(unreachable.p99Ms)}, max ${ms(unreachable.maxMs)} (${unreachable.checks} checks)`);
  }
  if (lines.length === 0) return undefined;
  console.log(`\n${lines.join('\n')}`);
  return out;
}
