import { DEFAULTS } from '../config/defaults.js';
import { BehalfError } from '../errors.js';
import { APPROVAL_RETENTION_MS, approvalFromStored, asSeen, forgetAt } from './approval-state.js';
import { connectRedis, redisConnectionControls, type RedisClientOptions } from './redis-client.js';
import type { Approval, ApprovalStore } from './types.js';

/**
 * Approvals shared by every gateway instance, in Redis. Each approval is a hash (`req`: the
 * request as JSON, never changed; `state`, `expiresAt`, `validMs`, `binding`, and once decided
 * or used `decidedBy`, `decidedAt`, `note`, `usableUntil`, `usedAt`), plus a key per binding
 * naming its newest approval and a sorted set of ids by creation time. Every key carries the
 * hash tag `{approvals}` (one slot on Redis Cluster); each state change is one Lua script, so two
 * instances never both use one approval, and an approval decided on one is seen by all at once.
 * Keys expire an hour after the approval can no longer matter.
 */

// KEYS[1] binding key, KEYS[2] index. ARGV: now, id, request JSON, expiresAt, validMs, binding,
// forgetAt, createdAt, approval key prefix. Returns the id of the open approval (an existing one, or this new one).
const OPEN = `
local now = tonumber(ARGV[1])
local current = redis.call('GET', KEYS[1])
if current then
  local f = redis.call('HMGET', ARGV[9] .. current, 'state', 'expiresAt', 'usableUntil')
  local state, expires, usable = f[1], tonumber(f[2] or '0'), tonumber(f[3] or '0')
  if state and (((state == 'pending' or state == 'denied') and now < expires) or (state == 'approved' and now < usable)) then
    return current
  end
end
local key = ARGV[9] .. ARGV[2]
redis.call('HSET', key, 'req', ARGV[3], 'state', 'pending', 'expiresAt', ARGV[4], 'validMs', ARGV[5], 'binding', ARGV[6])
redis.call('PEXPIREAT', key, ARGV[7])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[8], ARGV[2])
return ARGV[2]
`;

// KEYS[1] approval key, KEYS[2] binding key. ARGV: now, decision, by, note ('' none), retention ms.
// Returns 1 when a pending, unexpired approval was decided, else 0.
const DECIDE = `
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'state', 'expiresAt', 'validMs')
if f[1] ~= 'pending' or now >= tonumber(f[2] or '0') then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'decidedBy', ARGV[3], 'decidedAt', ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'note', ARGV[4]) end
if ARGV[2] == 'approved' then
  local usable = now + tonumber(f[3])
  redis.call('HSET', KEYS[1], 'usableUntil', string.format('%d', usable))
  local keep = math.max(usable, tonumber(f[2])) + tonumber(ARGV[5])
  redis.call('PEXPIREAT', KEYS[1], string.format('%d', keep))
  redis.call('PEXPIREAT', KEYS[2], string.format('%d', keep))
end
return 1
`;

// KEYS[1] approval key. ARGV: now, binding. Returns 1 when an approved, unexpired approval with
// this binding was marked used, else 0.
const USE = `
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'state', 'usableUntil', 'binding')
if f[1] ~= 'approved' or f[3] ~= ARGV[2] or now >= tonumber(f[2] or '0') then return 0 end
redis.call('HSET', KEYS[1], 'state', 'used', 'usedAt', ARGV[1])
return 1
`;

/** Options of {@link createRedisApprovalStore}. */
export interface RedisApprovalStoreOptions extends RedisClientOptions {
  /** Prefix of every key (default `behalf:`); tests use a random one. */
  keyPrefix?: string;
}

/** Ids the gateway makes: 22 base64url characters. Anything else names no approval (no key is built from it). */
const ID = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * Connects (in the background) to `url`. Operations made while Redis is unreachable reject at
 * once with `BehalfError('approval-store-failed')`: the approve stage then refuses the request
 * (fail closed).
 *
 * This does NOT check what it reads beyond its shape: anyone who can write the Redis keys can
 * approve requests, so Redis must be reachable only by the gateways.
 */
export function createRedisApprovalStore(url: string, opts: RedisApprovalStoreOptions = {}): ApprovalStore & { waitConnected(ms: number): Promise<boolean> } {
  const prefix = `${opts.keyPrefix ?? DEFAULTS.approvalKeyPrefix}{approvals}:`;
  const approvalPrefix = `${prefix}a:`;
  const indexKey = `${prefix}index`;
  const bindingKey = (binding: string) => `${prefix}b:${binding}`;
  const redis = connectRedis(url, 'approval store', opts);
  redis.defineCommand('behalfApprovalOpen', { numberOfKeys: 2, lua: OPEN });
  redis.defineCommand('behalfApprovalDecide', { numberOfKeys: 2, lua: DECIDE });
  redis.defineCommand('behalfApprovalUse', { numberOfKeys: 1, lua: USE });
  type Script = (...args: (string | number)[]) => Promise<string | number>;
  const scripts = redis as unknown as { behalfApprovalOpen: Script; behalfApprovalDecide: Script; behalfApprovalUse: Script };
  const run = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      throw new BehalfError('approval-store-failed', `approval store (Redis) ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  };
  const read = async (id: string, now: number): Promise<Approval | undefined> => {
    if (!ID.test(id)) return undefined;
    const fields = await redis.hgetall(approvalPrefix + id);
    const a = parseApproval(fields, id);
    return a === undefined || forgetAt(a) <= now ? undefined : asSeen(a, now);
  };

  return {
    kind: 'redis',
    open: (request, now) =>
      run('open', async () => {
        const pending: Approval = { ...request, state: 'pending' };
        const id = String(
          await scripts.behalfApprovalOpen(bindingKey(request.binding), indexKey, now, request.id, JSON.stringify(request), request.expiresAt, request.validMs, request.binding, forgetAt(pending), request.createdAt, approvalPrefix),
        );
        if (id === request.id) return { approval: pending, created: true };
        const current = await read(id, now);
        // Gone between the two reads (it just expired): this request is as new.
        return current === undefined ? { approval: pending, created: true } : { approval: current, created: false };
      }),
    get: (id, now) => run('read', () => read(id, now)),
    decide: (id, decision, by, now, note) =>
      run('decide', async () => {
        const before = await read(id, now);
        if (before === undefined) return { ok: false };
        const done = await scripts.behalfApprovalDecide(approvalPrefix + id, bindingKey(before.binding), now, decision, by, note ?? '', APPROVAL_RETENTION_MS);
        const after = await read(id, now);
        return Number(done) === 1 && after !== undefined ? { ok: true, approval: after } : after === undefined ? { ok: false } : { ok: false, approval: after };
      }),
    use: (id, binding, now) =>
      run('use', async () => {
        if (!ID.test(id)) return undefined;
        if (Number(await scripts.behalfApprovalUse(approvalPrefix + id, now, binding)) !== 1) return undefined;
        return read(id, now);
      }),
    list: (now) =>
      run('list', async () => {
        const ids = await redis.zrevrange(indexKey, 0, 999);
        const out: Approval[] = [];
        const gone: string[] = [];
        for (const id of ids) {
          const a = await read(id, now);
          if (a === undefined) gone.push(id);
          else out.push(a);
        }
        if (gone.length > 0) await redis.zrem(indexKey, ...gone);
        return out;
      }),
    ...redisConnectionControls(redis, run),
  };
}

const num = (v: string | undefined): number | undefined => (v === undefined || !/^\d{1,16}$/.test(v) ? undefined : Number(v));

/** The approval stored under `id`, or undefined when the hash is missing or damaged (its request naming another id included: never trusted). */
function parseApproval(f: Record<string, string>, id: string): Approval | undefined {
  if (f['req'] === undefined || f['state'] === undefined || f['binding'] === undefined) return undefined;
  let request: unknown;
  try {
    request = JSON.parse(f['req']);
  } catch {
    return undefined;
  }
  return approvalFromStored({
    id,
    binding: f['binding'],
    state: f['state'],
    request,
    decidedBy: f['decidedBy'],
    decidedAt: num(f['decidedAt']),
    note: f['note'],
    usableUntil: num(f['usableUntil']),
    usedAt: num(f['usedAt']),
  });
}
