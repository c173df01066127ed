/**
 * Real PostgreSQL for tests. Each caller gets its own schema with a random name, dropped after
 * the test file, so test files can run in parallel against one server. The server is required:
 * when it is unreachable the tests FAIL with a message saying how to start it; nothing is skipped.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after } from 'node:test';
import pg from 'pg';
import { describePgError } from '../../src/stores/postgres-pool.js';

/** The test server (trust auth on loopback in CI). `BEHALF_TEST_PG_URL` points elsewhere. */
export const PG_URL = process.env.BEHALF_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// Idle connections are closed quickly and do not keep the test process alive.
const admin = new pg.Pool({ connectionString: PG_URL, max: 2, connectionTimeoutMillis: 3_000, idleTimeoutMillis: 200, allowExitOnIdle: true });
admin.on('error', () => {});

let reachable: Promise<void> | undefined;

/** Resolves when the server answers; otherwise rejects with how to get one. */
export function requirePostgres(): Promise<void> {
  reachable ??= admin.query('SELECT 1').then(
    () => undefined,
    (err: unknown) => {
      const where = PG_URL.replace(/\/\/[^@/]*@/, '//');
      throw new Error(
        `PostgreSQL is not reachable at ${where} (${describePgError(err)}). These tests need a real server: ` +
          'start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, as .ci/run does) or set BEHALF_TEST_PG_URL.',
      );
    },
  );
  return reachable;
}

/** Run SQL as the test's administrator (to tamper with rows the way an attacker with database access would). */
export async function sql<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<R[]> {
  return (await admin.query<R>(text, values)).rows;
}

const cleanups: (() => Promise<unknown>)[] = [];
// Registered when this module loads, i.e. at the test file's top level: an `after` called from
// inside a running test may be attached too late to run (seen with the file's last test).
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

/** Run `fn` after the test file (last registered, first run). */
export function cleanupAfterFile(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}

/** A fresh schema name (not yet created) and the store URL that names it; dropped after the file. */
export async function freshSchema(): Promise<{ schema: string; url: string }> {
  await requirePostgres();
  const schema = `behalf_t_${randomBytes(6).toString('hex')}`;
  cleanupAfterFile(() => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  return { schema, url: withSchema(PG_URL, schema) };
}

/** `url` with `?schema=` set. */
export function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
}

/** The store URL pointed at another host:port (a proxy), same database, user and schema. */
export function viaPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

/** How a {@link PgProxy} treats connections. */
export type ProxyMode = 'forward' | 'reset' | 'blackhole';

/** A TCP hop between a store and the server, to take PostgreSQL "down" without stopping it. */
export interface PgProxy {
  readonly port: number;
  /**
   * `forward`: pass bytes both ways. `reset`: drop every open connection and close new ones at
   * once (a crashed server). `blackhole`: accept, never answer; open connections stop hearing
   * back (a network partition).
   */
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

/** A proxy on 127.0.0.1 (port 0) to the test server, starting in `forward`. */
export async function startPgProxy(): Promise<PgProxy> {
  const target = new URL(PG_URL);
  const targetPort = Number(target.port || 5432);
  let mode: ProxyMode = 'forward';
  const pairs = new Set<{ client: Socket; upstream?: Socket }>();
  const server = createServer((client) => {
    client.on('error', () => {});
    if (mode === 'reset') return void client.destroy();
    const pair: { client: Socket; upstream?: Socket } = { client };
    pairs.add(pair);
    client.on('close', () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    if (mode === 'blackhole') return;
    const upstream = connect(targetPort, target.hostname);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    setMode(next) {
      mode = next;
      for (const pair of pairs) {
        if (next === 'reset') pair.client.destroy();
        if (next === 'blackhole' && pair.upstream !== undefined) {
          // Keep the client's socket open but cut it off: what it sends goes nowhere.
          pair.client.unpipe(pair.upstream);
          pair.upstream.unpipe(pair.client);
          pair.upstream.removeAllListeners('close');
          pair.upstream.destroy();
          pair.upstream = undefined;
        }
      }
    },
    async close() {
      for (const pair of pairs) pair.client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
