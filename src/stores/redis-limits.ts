import type { Logger } from 'pino';
import { BehalfError } from '../errors.js';
import { connectRedis, DEFAULT_COMMAND_TIMEOUT_MS, redisConnectionControls } from './redis-client.js';
import { GCRA_EPSILON_MS } from './memory-limits.js';
import { ACQUIRE, ADD_QUOTA, QUOTA, RATE, REFUND_RATE, RENEW, REPEAT } from './redis-limit-scripts.js';
import type { CountOutcome, LimitStore, QuotaOutcome, RateOutcome } from './types.js';
import { DEFAULTS } from '../config/defaults.js';

/**
 * The limit store shared by every gateway instance: Redis (`limits.store: redis://...` or
 * `rediss://...`). One Lua script per check (see redis-limit-scripts.ts), TTL on every key, key
 * names with the bucket's hash tag so they work on Redis Cluster.
 *
 * Failure behaviour: a command never waits long. Commands are not queued while the connection
 * is down (they fail at once), each has a timeout (`commandTimeoutMs`), and a connection that
 * stops answering is dropped and redialled. The client reconnects by itself, forever, with a
 * capped backoff, so checks work again as soon as Redis is back. What a failed check means for
 * the request (`limits.onStoreError`) is the limiter's business: the store only rejects, with
 * `BehalfError('limit-store-failed')`.
 */

export { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS } from './redis-client.js';

/** Options of {@link createRedisLimitStore}. */
export interface RedisLimitStoreOptions {
  /** Prefix of every key (default `behalf:limit:`); tests use a random one. */
  keyPrefix?: string;
  /** Bound on one command, ms (default 500). */
  commandTimeoutMs?: number;
  /** Bound on establishing a connection, ms (default 2 000). */
  connectTimeoutMs?: number;
  /** Connection problems are logged here (once per outage; never the URL, which may hold a password). */
  logger?: Logger;
}

type ScriptName = 'behalfRate' | 'behalfRefundRate' | 'behalfQuota' | 'behalfAddQuota' | 'behalfAcquire' | 'behalfRenew' | 'behalfRepeat';
type ScriptCall = (key: string, ...args: (string | number)[]) => Promise<unknown>;

/** A Redis limit store plus the connection controls the gateway and tests use. */
export interface RedisLimitStore extends LimitStore {
  /** Resolves true once connected, false if not within `ms` (the store keeps trying either way). */
  waitConnected(ms: number): Promise<boolean>;
}

/**
 * Connects (in the background) to `url` and returns the store at once. Checks made before the
 * connection is up, or while it is down, reject at once.
 *
 * This does NOT check the URL's credentials or TLS settings beyond what ioredis does, and does
 * NOT wait for the connection: use {@link RedisLimitStore.waitConnected}.
 */
export function createRedisLimitStore(url: string, opts: RedisLimitStoreOptions = {}): RedisLimitStore {
  const prefix = opts.keyPrefix ?? DEFAULTS.limitsKeyPrefix;
  const commandTimeout = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const redis = connectRedis(url, 'limit store', {
    commandTimeoutMs: commandTimeout,
    ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
  });

  const scripts: [ScriptName, string][] = [
    ['behalfRate', RATE],
    ['behalfRefundRate', REFUND_RATE],
    ['behalfQuota', QUOTA],
    ['behalfAddQuota', ADD_QUOTA],
    ['behalfAcquire', ACQUIRE],
    ['behalfRenew', RENEW],
    ['behalfRepeat', REPEAT],
  ];
  // defineCommand sends EVALSHA, and EVAL when the server answers NOSCRIPT (after a restart or SCRIPT FLUSH).
  for (const [name, lua] of scripts) redis.defineCommand(name, { numberOfKeys: 1, lua });
  const commands = redis as unknown as Record<ScriptName, ScriptCall>;
  const run = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      throw new BehalfError('limit-store-failed', `limit store (Redis) ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  };
  const num = (v: unknown): number => Number(v);
  const triple = (v: unknown): number[] => (v as unknown[]).map(num);

  return {
    kind: 'redis',
    rate: (bucket, spec, cost, now) =>
      run('rate check', async (): Promise<RateOutcome> => {
        const [allowed, remaining, retryAfterMs, resetMs] = triple(
          await commands.behalfRate(`${prefix}${bucket}:rate`, now, spec.windowMs / spec.limit, spec.burst, cost, GCRA_EPSILON_MS),
        );
        return { allowed: allowed === 1, remaining: remaining!, retryAfterMs: retryAfterMs!, resetMs: resetMs! };
      }),
    refundRate: (bucket, spec, cost, now) =>
      run('rate refund', async () => {
        await commands.behalfRefundRate(`${prefix}${bucket}:rate`, now, spec.windowMs / spec.limit, cost);
      }),
    quota: (bucket, period, limit, cost, need, ttlMs) =>
      run('quota check', async (): Promise<QuotaOutcome> => {
        const [allowed, used] = triple(await commands.behalfQuota(`${prefix}${bucket}:quota:${period}`, limit, cost, need, Math.max(1, Math.ceil(ttlMs))));
        return { allowed: allowed === 1, used: used! };
      }),
    addQuota: (bucket, period, delta, ttlMs) =>
      run('quota adjustment', async () => num(await commands.behalfAddQuota(`${prefix}${bucket}:quota:${period}`, delta, Math.max(1, Math.ceil(ttlMs))))),
    acquire: (bucket, limit, leaseId, leaseMs, now) =>
      run('concurrency acquire', async (): Promise<CountOutcome> => {
        const [allowed, count] = triple(await commands.behalfAcquire(`${prefix}${bucket}:lease`, now, limit, leaseId, leaseMs));
        return { allowed: allowed === 1, count: count!, retryAfterMs: 0 };
      }),
    renew: (bucket, leaseId, leaseMs, now) => run('lease renewal', async () => num(await commands.behalfRenew(`${prefix}${bucket}:lease`, now, leaseId, leaseMs)) === 1),
    release: (bucket, leaseId) =>
      run('lease release', async () => {
        await redis.zrem(`${prefix}${bucket}:lease`, leaseId);
      }),
    repeat: (bucket, limit, windowMs, member, now) =>
      run('repeat check', async (): Promise<CountOutcome> => {
        const [allowed, count, retryAfterMs] = triple(await commands.behalfRepeat(`${prefix}${bucket}:repeat`, now, limit, windowMs, member));
        return { allowed: allowed === 1, count: count!, retryAfterMs: retryAfterMs! };
      }),
    forget: (bucket, member) =>
      run('repeat undo', async () => {
        await redis.zrem(`${prefix}${bucket}:repeat`, member);
      }),
    ...redisConnectionControls(redis, run),
  };
}
