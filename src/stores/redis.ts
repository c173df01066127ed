/**
 * Redis stores (the `behalf/stores/redis` entry): the state several gateway instances share
 * (limits, revocations) and the replay cache that several instances of a backend share. The
 * gateway opens the first two itself from `limits.store` / `revocation.store`; they are exported
 * for embedding (pass one as `GatewayOptions.limitStore` / `revocationStore`) and for tools that
 * inspect or seed them. Each passes its kind's contract test suite against a real Redis.
 */
export { createRedisLimitStore } from './redis-limits.js';
export type { RedisLimitStore, RedisLimitStoreOptions } from './redis-limits.js';
export { createRedisRevocationStore } from './redis-revocations.js';
export type { RedisRevocationStore, RedisRevocationStoreOptions } from './redis-revocations.js';
export { createRedisReplayCache, DEFAULT_REPLAY_KEY_PREFIX, replayKey } from './redis-replay-cache.js';
export type { RedisReplayCache, RedisReplayCacheOptions } from './redis-replay-cache.js';
export { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS } from './redis-client.js';
export type { RedisClientOptions } from './redis-client.js';
