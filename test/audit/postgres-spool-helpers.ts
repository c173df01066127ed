/**
 * Shared pieces of the spool tests: a store through a proxy with a spool in a temp directory,
 * polling with a deadline, and a proxy that loses the connection right after a COMMIT reached
 * the server (the "outcome unknown" case).
 */
import { readdir } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { openPostgresAuditStore, type PostgresAuditStore, type PostgresAuditStoreOptions } from '../../src/stores/postgres-audit-store.js';
import { PG_URL } from './postgres-helpers.js';

/** A store on `url` with a spool in `dir`, short timeouts and fast retries; warnings collected. */
export async function openSpooled(
  url: string,
  dir: string,
  over: Partial<PostgresAuditStoreOptions> & { maxBytes?: number; fileBytes?: number } = {},
): Promise<PostgresAuditStore & { warnings: string[] }> {
  const warnings: string[] = [];
  const { maxBytes, fileBytes, ...rest } = over;
  const store = await openPostgresAuditStore(url, {
    connectTimeoutMs: 500,
    statementTimeoutMs: 1_000,
    batchRecords: 50,
    onWarning: (m) => warnings.push(m),
    spool: { dir, maxBytes: maxBytes ?? 16 * 1_048_576, retryMinMs: 20, retryMaxMs: 100, ...(fileBytes !== undefined ? { fileBytes } : {}) },
    ...rest,
  });
  return Object.assign(store, { warnings });
}

/** Resolves once `check` returns true; fails after `ms` with `what`. Polls every 10 ms. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Spool files (not the lock) in `dir`, sorted. */
export async function spoolFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
}

/** A proxy to the test server that can drop a connection just after forwarding a COMMIT. */
export interface CommitCutProxy {
  readonly port: number;
  /** The next COMMIT goes through to the server, then the client's connection is cut before the answer. */
  cutAfterNextCommit(): void;
  /** Connections cut that way so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

const COMMIT_QUERY = Buffer.from('COMMIT\0');

export async function startCommitCutProxy(): Promise<CommitCutProxy> {
  const target = new URL(PG_URL);
  let armed = false;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    const upstream = connect(Number(target.port || 5432), target.hostname);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    let swallow = false;
    client.on('data', (d: Buffer) => {
      upstream.write(d);
      if (armed && d.includes(COMMIT_QUERY)) {
        armed = false;
        swallow = true;
        cuts++;
        // Let the server read and apply the COMMIT, then lose the connection before its answer.
        setTimeout(() => client.destroy(), 100);
      }
    });
    upstream.on('data', (d: Buffer) => swallow || client.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cutAfterNextCommit() {
      armed = true;
    },
    get cuts() {
      return cuts;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
