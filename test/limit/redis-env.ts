/**
 * Real Redis for the limit tests: the URL (BEHALF_TEST_REDIS_URL, default the local server CI
 * starts), a random key prefix per test file so files running in parallel never share a key,
 * removal of that prefix's keys at the end, and a clear failure (never a silent skip) when
 * Redis is not there.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from '../../examples/hr-demo/launch.js';

/** The Redis the tests use. */
export const REDIS_URL = process.env['BEHALF_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';

/** A fresh key prefix, e.g. `behalf-test:3QZ1p0m5:`. */
export function testPrefix(): string {
  return `behalf-test:${randomBytes(6).toString('base64url')}:`;
}

/** A plain client for inspecting keys; fails with instructions when Redis does not answer within 2 s. */
export async function adminClient(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `Redis is not reachable at ${REDIS_URL} (${(err as Error).message}). These tests need a real Redis: start it with ` +
        '`redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no` or set BEHALF_TEST_REDIS_URL.',
    );
  }
  return redis;
}

/** Every key under `prefix`. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key under `prefix`. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  if (keys.length > 0) await redis.del(...keys);
}

/** A Redis server of this test's own (no data on disk), for what must not touch the shared one. */
export interface PrivateRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `redis-server` on a free loopback port; fails clearly when the binary is missing. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--logfile', ''], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failed = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`cannot start redis-server (${err.message}): install Redis 7`))));
  const url = `redis://127.0.0.1:${port}/0`;
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => undefined);
  const ready = (async () => {
    for (let i = 0; i < 50; i++) {
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        probe.disconnect();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`redis-server on port ${port} did not answer`);
  })();
  try {
    await Promise.race([ready, failed]);
  } finally {
    probe.disconnect();
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
