// A closed-loop load generator with microsecond latency (autocannon reports whole milliseconds,
// too coarse for a +0.5 ms target). `connections` loops each send one request at a time.
import { Pool } from 'undici';

export interface LoadResult {
  requests: number;
  errors: number;
  non2xx: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Filled in by the caller: CPU the server process used per request, µs. */
  cpuUsPerRequest?: number;
}

export async function runLoad(opts: { url: string; path: string; headers: Record<string, string>; connections: number; seconds: number }): Promise<LoadResult> {
  const pool = new Pool(opts.url, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(opts.seconds * 1e9));
  const loop = async () => {
    while (process.hrtime.bigint() < end) {
      const t0 = process.hrtime.bigint();
      try {
        const res = await pool.request({ path: opts.path, method: 'GET', headers: opts.headers });
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { requests: latencies.length, errors, non2xx, seconds, rps: latencies.length / seconds, p50Ms: pct(50), p99Ms: pct(99) };
}
