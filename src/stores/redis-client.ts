import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';

/** Default bound on one command, ms. */
export const DEFAULT_COMMAND_TIMEOUT_MS = DEFAULTS.redisCommandTimeoutMs;
/** Default bound on establishing a connection, ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = DEFAULTS.redisConnectTimeoutMs;
/** Most time between reconnection attempts, ms. */
const MAX_RECONNECT_DELAY_MS = 1_000;

/** Options of {@link connectRedis}. */
export interface RedisClientOptions {
  /** Bound on one command, ms (default 500). */
  commandTimeoutMs?: number;
  /** Bound on establishing a connection, ms (default 2 000). */
  connectTimeoutMs?: number;
  /** Connection problems are logged here (once per outage; never the URL, which may hold a password). */
  logger?: Logger;
}

/**
 * A Redis connection for a store that must never make a request wait long: commands are not
 * queued while the connection is down (they fail at once), each has a timeout, a connection that
 * stops answering is dropped and redialled, and the client reconnects by itself, forever, with a
 * capped backoff. `what` names the store in log lines (`limit store`, `revocation store`).
 *
 * This does NOT check the URL's credentials or TLS settings beyond what ioredis does, and does
 * NOT wait for the connection: use {@link waitConnected}.
 */
export function connectRedis(url: string, what: string, opts: RedisClientOptions = {}): Redis {
  const commandTimeout = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const redis = new Redis(url, {
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeout,
    // A connection that stops answering while commands wait is dropped and redialled.
    socketTimeout: commandTimeout * 2,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(50 * times, MAX_RECONNECT_DELAY_MS),
    // Commands issued in the same tick (the checks of one request) share one write and one round trip.
    enableAutoPipelining: true,
    lazyConnect: false,
    // On close, a socket that does not end by itself is destroyed after this long (ioredis' 2 s default would hold the process).
    disconnectTimeout: 100,
  });
  let reported = false;
  redis.on('error', (err: Error) => {
    if (reported) return;
    reported = true;
    opts.logger?.warn({ err: { name: err.name, message: err.message } }, `${what} (Redis) unreachable; retrying`);
  });
  redis.on('ready', () => {
    if (reported) opts.logger?.info(`${what} (Redis) connected again`);
    reported = false;
  });
  return redis;
}

/** Resolves true once `redis` is connected, false if not within `ms` (it keeps trying either way). */
export function waitConnected(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    redis.once('ready', onReady);
  });
}

/** The connection half of a Redis store: `ping`, `waitConnected` and an idempotent `close`. */
export function redisConnectionControls(redis: Redis, run: <T>(what: string, op: () => Promise<T>) => Promise<T>) {
  let closed = false;
  return {
    ping: () =>
      run('ping', async () => {
        await redis.ping();
      }),
    waitConnected: (ms: number) => waitConnected(redis, ms),
    async close() {
      if (closed) return;
      closed = true;
      redis.disconnect();
    },
  };
}
