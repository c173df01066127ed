import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ReplayCache } from '../backend/replay-cache.js';
import { BehalfError } from '../errors.js';
import { connectRedis, waitConnected } from './redis-client.js';

/** Default prefix of every replay-cache key. */
export const DEFAULT_REPLAY_KEY_PREFIX = 'behalf:replay:';

/** Options of {@link createRedisReplayCache}. */
export interface RedisReplayCacheOptions {
  /** Prefix of every key (default `behalf:replay:`); give each backend (audience) its own when they share a Redis. */
  keyPrefix?: string;
  /** Bound on one command, ms (default 500). Only when the cache opens the connection from a URL. */
  commandTimeoutMs?: number;
  /** Bound on establishing a connection, ms (default 2 000). Only with a URL. */
  connectTimeoutMs?: number;
  /** Connection problems are logged here, once per outage (never the URL). Only with a URL. */
  logger?: Logger;
}

/** A {@link ReplayCache} on Redis, shared by every instance of a backend. */
export interface RedisReplayCache extends ReplayCache {
  seen(jti: string, expiresAt: number): Promise<boolean>;
  /** Resolves true once connected, false if not within `ms` (it keeps trying either way). */
  waitConnected(ms: number): Promise<boolean>;
  /** Closes the connection the cache opened from a URL; a client passed in is left open. Idempotent. */
  close(): Promise<void>;
}

/**
 * The key of one assertion id: `<prefix>{<base64url SHA-256 of the jti>}`. Hashed so that every
 * key has the same short length whatever the gateway puts in `jti`, and so the `{hash tag}` is
 * always well formed (Redis Cluster places the key by it).
 */
export function replayKey(prefix: string, jti: string): string {
  return `${prefix}{${createHash('sha256').update(jti).digest('base64url')}}`;
}

/**
 * A replay cache that backend instances share through Redis: one `SET <key> 1 NX EXAT
 * <expiresAt>` per assertion, atomic on the server (of two instances given the same assertion at
 * the same moment, exactly one is told it is new) and one round trip. Every key expires with its
 * assertion, so Redis holds only ids still worth refusing.
 *
 * `redis` is a URL (`redis://`, `rediss://`; the cache then owns the connection: commands fail at
 * once while it is down, each is bounded by `commandTimeoutMs`, and it reconnects by itself) or
 * an ioredis `Redis` / `Cluster` client of yours. Give your own client `enableOfflineQueue:
 * false` and a `commandTimeout`, or a request waits as long as the client queues its command.
 *
 * Fails closed: when Redis cannot answer, `seen` rejects with `BehalfError('replay-cache-failed')`
 * and the verifier refuses the request; it never reports an id as new without Redis saying so.
 *
 * This does NOT detect a replay once the id's key has expired: Redis' clock decides when
 * (`EXAT`), so keep it in step with the backends' clocks (NTP); the verifier's clock tolerance
 * (default 5 s) is added to `exp` and covers a skew smaller than that. It does NOT survive a
 * Redis restart without persistence or a failover that loses recent writes: ids written just
 * before are forgotten. It does NOT separate backends that share a Redis and a prefix (an id is
 * random, so this only matters for the prefix's key count).
 */
export function createRedisReplayCache(redis: string | Redis | Cluster, opts: RedisReplayCacheOptions = {}): RedisReplayCache {
  const prefix = opts.keyPrefix ?? DEFAULT_REPLAY_KEY_PREFIX;
  const owned = typeof redis === 'string';
  const client: Redis | Cluster = owned
    ? connectRedis(redis, 'replay cache', {
        ...(opts.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: opts.commandTimeoutMs }),
        ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
        ...(opts.logger === undefined ? {} : { logger: opts.logger }),
      })
    : redis;
  let closed = false;
  return {
    async seen(jti, expiresAt) {
      // EXAT takes whole seconds: round up, so the key never expires before the assertion.
      const at = Math.max(1, Math.ceil(expiresAt));
      let reply: 'OK' | null;
      try {
        reply = await client.set(replayKey(prefix, jti), '1', 'EXAT', at, 'NX');
      } catch (err) {
        throw new BehalfError('replay-cache-failed', `replay cache (Redis) failed: ${(err as Error).message}`, { cause: err });
      }
      // NX: 'OK' when the key was set (a new id), null when it already existed (a replay).
      return reply === null;
    },
    // A Cluster has the same status and 'ready' event as a single connection.
    waitConnected: (ms) => waitConnected(client as Redis, ms),
    async close() {
      if (closed || !owned) return;
      closed = true;
      client.disconnect();
    },
  };
}
