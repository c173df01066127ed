import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/schema.js';
import { createMemoryLimitStore } from '../stores/memory-limits.js';
import { createRedisLimitStore, DEFAULT_CONNECT_TIMEOUT_MS } from '../stores/redis-limits.js';
import type { LimitStore } from '../stores/types.js';

/**
 * Opens the store `limits.store` names: `memory`, or a `redis://` / `rediss://` URL. A Redis
 * store is given up to its connect timeout (2 s) to connect; if Redis is not there, the gateway
 * starts anyway (checks follow `limits.onStoreError` until it is) and says so in the log.
 * Nothing is opened when no rule and no runaway guard are configured.
 */
export async function openLimitStore(limits: LimitsConfig, opts: { logger?: Logger; keyPrefix?: string } = {}): Promise<LimitStore> {
  if (limits.store === 'memory' || (limits.rules.length === 0 && limits.runaway === undefined)) return createMemoryLimitStore();
  const store = createRedisLimitStore(limits.store, {
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    keyPrefix: opts.keyPrefix ?? limits.keyPrefix,
  });
  if (!(await store.waitConnected(DEFAULT_CONNECT_TIMEOUT_MS))) {
    opts.logger?.warn({ onStoreError: limits.onStoreError }, 'limit store (Redis) not reachable at start; limits follow limits.onStoreError until it is');
  }
  return store;
}
