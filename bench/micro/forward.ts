// The forwarder alone: `createForwarder().forward()` against bench/upstream.ts (its own process),
// 32 requests in flight, each answer streamed into a stand-in client response (no socket). Prints
// this process's CPU per forwarded request (undici, the exchange, its timer and listeners), the
// part of behalf's forward glue that the upstream and the client socket do not blur.
//   node --import tsx bench/micro/forward.ts [--root <checkout>] [--ms N] [--rounds 3]
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type * as Proxy from '../../src/forward/proxy.js';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, ROOT } from './measure-src.js';

const HERE = dirname(fileURLToPath(import.meta.url));

const { createForwarder } = await load<typeof Proxy>('forward/proxy.ts');
const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const MS = flag('ms', 2000);
const ROUNDS = flag('rounds', 3);
const IN_FLIGHT = 32;

/** What the exchange uses of a ServerResponse; the bytes go nowhere. */
class StandInResponse extends EventEmitter {
  destroyed = false;
  writableFinished = false;
  writableEnded = false;
  headersSent = false;
  writeHead(): this {
    this.headersSent = true;
    return this;
  }
  flushHeaders(): void {}
  write(): boolean {
    return true;
  }
  end(): this {
    this.writableEnded = this.writableFinished = true;
    queueMicrotask(() => this.emit('close'));
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
}

const upstream = spawn(process.execPath, ['--import', 'tsx', join(HERE, '..', 'upstream.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const port = await new Promise<number>((resolve) => upstream.stdout!.once('data', (d) => resolve((JSON.parse(String(d)) as { port: number }).port)));
  const forwarder = createForwarder();
  const route = { upstream: `http://127.0.0.1:${port}/v1`, timeoutMs: 30_000, connectTimeoutMs: 10_000 };
  const headers = {
    'x-user-id': 'alice',
    'x-behalf-assertion': 'a'.repeat(741),
    'x-request-id': 'K3x-XZ-Z0yXkI3uxm5ti4w',
    'x-forwarded-for': '127.0.0.1',
    'x-forwarded-proto': 'http',
    'x-forwarded-host': '127.0.0.1:38401',
  };
  const req = { method: 'GET', headers: {} };
  const once = async () => {
    const res = new StandInResponse();
    const r = await forwarder.forward({ req: req as never, res: res as never, route, upstreamPath: '/v1/reviews/bob', headers, body: undefined });
    if (!r.ok) throw new Error(`forward failed: ${JSON.stringify(r)}`);
  };
  const run = async (ms: number) => {
    let n = 0;
    const end = performance.now() + ms;
    const cpu0 = process.cpuUsage();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() < end) {
          await once();
          n++;
        }
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    return { us: (cpu.user + cpu.system) / n, rps: n / (ms / 1000) };
  };
  await run(MS / 2);
  console.log(ROOT);
  for (let i = 0; i < ROUNDS; i++) {
    const r = await run(MS);
    console.log(`forward, ${IN_FLIGHT} in flight: ${r.us.toFixed(2)} us CPU per request (${r.rps.toFixed(0)} req/s)`);
  }
  await forwarder.close();
} finally {
  upstream.kill('SIGTERM');
}
