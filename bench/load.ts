// A closed-loop load generator with microsecond latency (autocannon reports whole milliseconds,
// too coarse for a +0.5 ms target). `connections` loops each send one request at a time.
import { Pool } from 'undici';

export interface LoadResult {
  requests: number;
  errors: number;
  non2xx: number;
  /** 2xx answers that `check` refused (e.g. a JSON-RPC error instead of a result). */
  badAnswers: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Filled in by the caller: CPU the server process used per request, µs. */
  cpuUsPerRequest?: number;
  /** Filled in by the caller (MCP cases): CPU the upstream MCP server used per request, µs. */
  upstreamCpuUsPerRequest?: number;
  /** Filled in by the caller (MCP cases): the upstream's heap in use after a full GC, after the measurement, MB. */
  upstreamHeapMb?: number;
  /** behalf: assertions per batch signature during the measurement (from its metrics). */
  assertionsPerBatch?: number;
  /** Filled in by the caller: CPU the load generator (this process) used per request, µs. */
  generatorCpuUsPerRequest?: number;
  /** Filled in by the caller: CPU used by processes outside the benchmark meanwhile, % of the machine. */
  otherCpuPercent?: number;
}

/** What to send. Without `body`, a GET whose answer is discarded unread. */
export interface LoadOptions {
  url: string;
  /**
   * Several servers of one service (instances behind a load balancer): loop `i` sends to
   * `urls[i % urls.length]` on that server's own pool, as an L4 balancer spreads connections.
   * Default: `[url]`.
   */
  urls?: string[];
  path: string;
  /** Headers of every request, or of each loop (`loop` 0 to `connections - 1`). */
  headers: Record<string, string> | ((loop: number) => Record<string, string>);
  connections: number;
  seconds: number;
  /** A POST with this body; `n` counts requests across loops (unique, e.g. for JSON-RPC ids). */
  body?: (n: number) => string;
  /** Whether a 2xx answer is what was asked for (reads the body as text when given). */
  check?: (body: string) => boolean;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const urls = opts.urls ?? [opts.url];
  const pools = urls.map((u) => new Pool(u, { connections: Math.ceil(opts.connections / urls.length), pipelining: 1, keepAliveTimeout: 60_000 }));
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  let badAnswers = 0;
  let sent = 0;
  const { body, check } = opts;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(opts.seconds * 1e9));
  const loop = async (index: number) => {
    const headers = typeof opts.headers === 'function' ? opts.headers(index) : opts.headers;
    const pool = pools[index % pools.length]!;
    while (process.hrtime.bigint() < end) {
      const t0 = process.hrtime.bigint();
      try {
        const res =
          body === undefined
            ? await pool.request({ path: opts.path, method: 'GET', headers })
            : await pool.request({ path: opts.path, method: 'POST', headers, body: body(sent++) });
        const ok2xx = res.statusCode >= 200 && res.statusCode <= 299;
        if (check === undefined) await res.body.dump();
        else if (!check(await res.body.text()) && ok2xx) badAnswers++;
        if (!ok2xx) non2xx++;
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, (_, i) => loop(i)));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(pools.map((p) => p.close()));
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { requests: latencies.length, errors, non2xx, badAnswers, seconds, rps: latencies.length / seconds, p50Ms: pct(50), p99Ms: pct(99) };
}
