import type { Logger } from 'pino';
import type { RevocationConfig } from '../config/schema.js';
import { createMemoryRevocationStore } from '../stores/memory-revocations.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../stores/redis-client.js';
import { createRedisRevocationStore } from '../stores/redis-revocations.js';
import type { RevocationStore } from '../stores/types.js';

/**
 * Opens the store `revocation.store` names: `memory`, or a `redis://` / `rediss://` URL. A Redis
 * store gets up to its connect timeout (2 s) to connect; if Redis is not there, the gateway starts
 * anyway (checks follow `revocation.onStoreError` until the first sync) and says so in the log.
 */
export async function openRevocationStore(cfg: RevocationConfig, opts: { logger?: Logger; keyPrefix?: string } = {}): Promise<RevocationStore> {
  if (cfg.store === 'memory') return createMemoryRevocationStore();
  const store = createRedisRevocationStore(cfg.store, {
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(opts.keyPrefix === undefined ? {} : { keyPrefix: opts.keyPrefix }),
  });
  if (!(await store.waitConnected(DEFAULT_CONNECT_TIMEOUT_MS))) {
    opts.logger?.warn({ onStoreError: cfg.onStoreError }, 'revocation store (Redis) not reachable at start; checks follow revocation.onStoreError until it is');
  }
  return store;
}
