import { BehalfError } from '../errors.js';
import { newRevocationVersion, revocationField } from './memory-revocations.js';
import { connectRedis, redisConnectionControls, type RedisClientOptions } from './redis-client.js';
import type { Revocation, RevocationKind, RevocationStore } from './types.js';
import { DEFAULTS } from '../config/defaults.js';

/**
 * Revocations shared by every gateway instance, in Redis: one hash (field = kind, issuer and
 * value; value = the revocation as JSON) and a version key set to a fresh random token on every
 * change. Both keys share the hash tag `{revocations}` (one slot on Redis Cluster), are changed
 * together by one Lua script, and expire with the longest-lived revocation they hold.
 */

// KEYS[1] hash, KEYS[2] version. ARGV: now, field, json (empty: remove), until, version.
// Expired fields are dropped on every change, so the hash never grows past what is in force.
const CHANGE = `
local now = tonumber(ARGV[1])
local changed = 1
if ARGV[3] == '' then
  changed = redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
local last = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ok, entry = pcall(cjson.decode, all[i + 1])
  local untilMs = ok and type(entry) == 'table' and tonumber(entry['until']) or 0
  if untilMs <= now then redis.call('HDEL', KEYS[1], all[i]) elseif untilMs > last then last = untilMs end
end
if changed == 1 then redis.call('SET', KEYS[2], ARGV[5]) end
if last > now then
  redis.call('PEXPIREAT', KEYS[1], last)
  redis.call('PEXPIREAT', KEYS[2], last)
else
  redis.call('DEL', KEYS[1])
  redis.call('PEXPIRE', KEYS[2], 86400000)
end
return changed
`;

/** Options of {@link createRedisRevocationStore}. */
export interface RedisRevocationStoreOptions extends RedisClientOptions {
  /** Prefix of both keys (default `behalf:`); tests use a random one. */
  keyPrefix?: string;
}

/** A Redis revocation store plus its connection control. */
export interface RedisRevocationStore extends RevocationStore {
  /** Resolves true once connected, false if not within `ms` (the store keeps trying either way). */
  waitConnected(ms: number): Promise<boolean>;
}

/**
 * Connects (in the background) to `url`. Operations made while Redis is unreachable reject at
 * once with `BehalfError('revocation-store-failed')`; what that means for requests is the
 * revocation list's business (`revocation.onStoreError`).
 *
 * This does NOT check what it reads beyond its shape: anyone who can write the Redis keys can
 * add or remove revocations, so Redis must be reachable only by the gateways.
 */
export function createRedisRevocationStore(url: string, opts: RedisRevocationStoreOptions = {}): RedisRevocationStore {
  const prefix = opts.keyPrefix ?? DEFAULTS.revocationKeyPrefix;
  const hashKey = `${prefix}{revocations}`;
  const versionKey = `${prefix}{revocations}:version`;
  const redis = connectRedis(url, 'revocation store', opts);
  redis.defineCommand('behalfRevocationChange', { numberOfKeys: 2, lua: CHANGE });
  const change = (redis as unknown as { behalfRevocationChange: (...args: (string | number)[]) => Promise<number> }).behalfRevocationChange.bind(redis);
  const run = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      throw new BehalfError('revocation-store-failed', `revocation store (Redis) ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    kind: 'redis',
    add: (r, now) =>
      run('add', async () => {
        await change(hashKey, versionKey, now, revocationField(r.kind, r.value, r.issuer), JSON.stringify(r), r.until, newRevocationVersion(now));
      }),
    remove: (kind: RevocationKind, value: string, issuer: string | undefined, now: number) =>
      run('remove', async () => (await change(hashKey, versionKey, now, revocationField(kind, value, issuer), '', 0, newRevocationVersion(now))) === 1),
    list: (now) =>
      run('list', async () => {
        const all = await redis.hgetall(hashKey);
        const out: Revocation[] = [];
        for (const json of Object.values(all)) {
          const r = parseRevocation(json);
          if (r !== undefined && r.until > now) out.push(r);
        }
        return out;
      }),
    version: () => run('version read', async () => (await redis.get(versionKey)) ?? 'none'),
    ...redisConnectionControls(redis, run),
  };
}

const KINDS: ReadonlySet<string> = new Set(['user', 'client', 'token']);

/** A stored revocation, or undefined when the JSON is not one (a damaged entry is skipped, not trusted). */
function parseRevocation(json: string): Revocation | undefined {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  if (typeof v.kind !== 'string' || !KINDS.has(v.kind) || typeof v.value !== 'string' || typeof v.at !== 'number' || typeof v.until !== 'number') return undefined;
  return {
    kind: v.kind as RevocationKind,
    value: v.value,
    at: v.at,
    until: v.until,
    ...(typeof v.issuer === 'string' ? { issuer: v.issuer } : {}),
    ...(typeof v.issuedBefore === 'number' ? { issuedBefore: v.issuedBefore } : {}),
    ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
    ...(typeof v.by === 'string' ? { by: v.by } : {}),
  };
}
