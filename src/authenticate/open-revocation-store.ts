import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { RevocationConfig } from '../config/schema.js';
import { openFileRevocationStore } from '../stores/file-revocations.js';
import { createMemoryRevocationStore } from '../stores/memory-revocations.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../stores/redis-client.js';
import { createRedisRevocationStore } from '../stores/redis-revocations.js';
import type { RevocationStore } from '../stores/types.js';

/**
 * The file `revocation.store` names when it is neither `memory` nor a Redis URL: `file:<path>` or
 * a plain path, relative to `baseDir` (the config file's folder). `undefined` for the other stores.
 */
export function revocationFilePath(store: string, baseDir: string): string | undefined {
  if (store === 'memory' || /^rediss?:\/\//i.test(store)) return undefined;
  const path = /^file:/i.test(store) ? store.slice('file:'.length) : store;
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/**
 * Opens the store `revocation.store` names: a file (default `.behalf/revocations.json`, next to
 * the audit trail and signing keys), `memory` (forgotten on restart: for tests), or a `redis://` /
 * `rediss://` URL. A Redis store gets up to its connect timeout (2 s) to connect; if Redis is not
 * there, the gateway starts anyway (checks follow `revocation.onStoreError` until the first sync)
 * and says so in the log.
 *
 * @throws BehalfError `revocation-store-failed` when the revocation file exists but is unusable:
 *         the gateway does not start rather than forget revocations.
 */
export async function openRevocationStore(
  cfg: RevocationConfig,
  opts: { baseDir: string; logger?: Logger; keyPrefix?: string; now?: () => number },
): Promise<RevocationStore> {
  if (cfg.store === 'memory') return createMemoryRevocationStore();
  const file = revocationFilePath(cfg.store, opts.baseDir);
  if (file !== undefined) return openFileRevocationStore(file, opts.now === undefined ? {} : { now: opts.now });
  const store = createRedisRevocationStore(cfg.store, {
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(opts.keyPrefix === undefined ? {} : { keyPrefix: opts.keyPrefix }),
  });
  if (!(await store.waitConnected(DEFAULT_CONNECT_TIMEOUT_MS))) {
    opts.logger?.warn({ onStoreError: cfg.onStoreError }, 'revocation store (Redis) not reachable at start; checks follow revocation.onStoreError until it is');
  }
  return store;
}
