// What the MCP upstreams of the bench answer at `GET /memory`, so the bench can watch an
// upstream's memory grow (or not) over calls, straight to it and behind behalf.

/** The path of the memory report on the bench's MCP upstreams. */
export const MEMORY_PATH = '/memory';

/** This process's memory, MB: heap in use after a full GC (when run with --expose-gc), and RSS. */
export interface UpstreamMemory {
  heapUsedMb: number;
  rssMb: number;
  /** Whether a full GC ran first (else `heapUsedMb` includes garbage). */
  collected: boolean;
}

export function memoryAnswer(): UpstreamMemory {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const m = process.memoryUsage();
  return { heapUsedMb: m.heapUsed / 2 ** 20, rssMb: m.rss / 2 ** 20, collected: gc !== undefined };
}

/** Asks the upstream at `origin` for its memory; undefined if it does not answer. */
export async function upstreamMemory(origin: string): Promise<UpstreamMemory | undefined> {
  try {
    const res = await fetch(`${origin}${MEMORY_PATH}`);
    return res.ok ? ((await res.json()) as UpstreamMemory) : undefined;
  } catch {
    return undefined;
  }
}
