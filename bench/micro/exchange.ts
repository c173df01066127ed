// One forwarded exchange's own work, without the network: the exchange is made, undici's events
// are played to it (request start, response head, one body chunk, end) as for the benchmark's
// small fixed-length answer, and it finishes into a stand-in client response once `beforeEnd`
// agreed (as forward/route.ts asks, for the audit record). What is left is the glue: the
// whole-exchange timer, the client-close and drain listeners, the response head, the promises.
//   node --import tsx bench/micro/exchange.ts [--root <checkout>] [--ms N]
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as ExchangeModule from '../../src/forward/proxy-exchange.js';
import { load, measure, ROOT } from './measure-src.js';

const { Exchange } = await load<typeof ExchangeModule>('forward/proxy-exchange.ts');
// Builds after the shared deadline list take it as a second argument; older ones ignore it.
const deadlines = existsSync(join(ROOT, 'src', 'lib', 'deadlines.ts'))
  ? new (await load<{ DeadlineList: new (ms: number) => unknown }>('lib/deadlines.ts')).DeadlineList(30_000)
  : undefined;

class StandInResponse extends EventEmitter {
  destroyed = false;
  writableFinished = false;
  writableEnded = false;
  headersSent = false;
  socket = new EventEmitter();
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
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

const controller = { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} };
const upstreamHeaders = { 'content-type': 'application/json', 'content-length': '77', date: 'Sun, 06 Dec 2026 08:58:07 GMT', connection: 'keep-alive', 'keep-alive': 'timeout=60' };
const chunk = Buffer.alloc(77, 'x');
const route = { upstream: 'http://127.0.0.1:1/v1', timeoutMs: 30_000, connectTimeoutMs: 10_000 };
const req = { method: 'GET', headers: {} };
const headers = { 'x-request-id': 'K3x-XZ-Z0yXkI3uxm5ti4w' };
const socket = new EventEmitter();

console.log(ROOT);
const agreed = Promise.resolve(true);
const beforeEnd = () => agreed;
await measure('exchange: start, head, one chunk, end', () => {
  const res = new StandInResponse();
  res.socket = socket;
  const ex = new (Exchange as unknown as new (...a: unknown[]) => InstanceType<typeof Exchange>)(
    { req, res, route, upstreamPath: '/v1/reviews/bob', headers, body: undefined, beforeEnd },
    deadlines,
  );
  ex.onRequestStart(controller as never);
  ex.onResponseStart(controller as never, 200, upstreamHeaders);
  ex.onResponseData(controller as never, chunk);
  ex.onResponseEnd();
  return ex.done;
}, { async: true });
