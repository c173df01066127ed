/**
 * A TCP proxy on 127.0.0.1 in front of the shared Redis, that a test can cut (connections reset,
 * new ones refused), turn into a black hole (connections stay open, nothing gets through) and
 * restore, without touching the Redis server other tests use.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** `redis://127.0.0.1:<port>/<db>`: the target's URL through the proxy. */
  readonly url: string;
  /** Resets every connection and resets new ones at once. */
  cut(): void;
  /** Keeps connections open but forwards nothing, either way; new connections get nowhere. */
  blackhole(): void;
  /** Forwards again (connections from the black hole are reset, so clients redial). */
  restore(): void;
  close(): Promise<void>;
}

/** Starts a proxy to the Redis at `targetUrl`. */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  let mode: 'open' | 'cut' | 'blackhole' = 'open';
  const pairs = new Set<{ client: Socket; upstream?: Socket; dropping: boolean }>();
  const server = createServer((client) => {
    client.on('error', () => undefined);
    if (mode === 'cut') return void client.resetAndDestroy();
    const pair: { client: Socket; upstream?: Socket; dropping: boolean } = { client, dropping: mode === 'blackhole' };
    pairs.add(pair);
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (pair.dropping) return void client.on('data', () => undefined);
    const upstream = connect(Number(target.port || 6379), target.hostname);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('data', (d) => pair.dropping || upstream.write(d));
    upstream.on('data', (d) => pair.dropping || client.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const resetAll = () => {
    for (const p of pairs) {
      p.client.resetAndDestroy();
      p.upstream?.destroy();
    }
    pairs.clear();
  };
  return {
    url: `redis://127.0.0.1:${port}${target.pathname}`,
    cut() {
      mode = 'cut';
      resetAll();
    },
    blackhole() {
      mode = 'blackhole';
      for (const p of pairs) p.dropping = true;
    },
    restore() {
      if (mode === 'blackhole') resetAll();
      mode = 'open';
    },
    close() {
      resetAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
