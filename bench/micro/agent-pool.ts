// What undici's Agent adds over a Pool for one origin (issue 13 §2, item 2): `dispatch` of the
// forwarder's request through each, to an origin that accepts connections and never answers, so
// that every request after the first queues in the pool and no I/O is measured. Two connections
// per origin, so that the Agent makes a Pool too (with one it makes a Client, which builds the
// request on dispatch and is not comparable).
//   node --import tsx bench/micro/agent-pool.ts [--ms N]
import { createServer, type AddressInfo } from 'node:net';
import { Agent, Pool, type Dispatcher } from 'undici';
import { measure } from './measure-src.js';

const server = createServer(() => {}).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const handler: Dispatcher.DispatchHandler = { onRequestStart() {}, onResponseStart() {}, onResponseData() {}, onResponseEnd() {}, onResponseError() {} };
const headers = { 'x-user-id': 'alice', 'x-request-id': 'K3x-XZ-Z0yXkI3uxm5ti4w' };
for (let round = 0; round < 3; round++) {
  for (const kind of ['Agent', 'Pool'] as const) {
    const d: Dispatcher = kind === 'Agent' ? new Agent({ connections: 2 }) : new Pool(origin, { connections: 2 });
    await measure(`${kind}.dispatch (queued)`, () => d.dispatch({ origin, path: '/v1/reviews/bob', method: 'GET', headers, body: null }, handler));
    await d.destroy().catch(() => {});
  }
}
server.close();
