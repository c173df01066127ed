// Counting one request in behalf_requests_total (four labels), as the runner does per request:
// prom-client's inc with a label object, a prom-client child from labels(...) resolved once, and
// the gateway's counter cells (src/observe/counter-cells.ts) when present in the tree measured.
// Label values cycle over 6 combinations (routes and reasons seen in a mixed load).
//   node --import tsx bench/micro/metrics-inc.ts [--root <worktree>]
import { measure, rootArg } from './measure.js';

const root = rootArg();
const { createMetrics } = (await import(`${root}/src/observe/metrics.ts`)) as typeof import('../../src/observe/metrics.js');
console.log(`metrics inc, code from ${root}`);

const combos = [
  ['http', 'hr', 'allow', 'allowed-by-rule'],
  ['http', 'hr', 'deny', 'denied-by-rule'],
  ['http', 'payroll', 'allow', 'allowed-by-rule'],
  ['mcp', 'hr.lookup', 'allow', 'allowed-by-rule'],
  ['http', '', 'deny', 'token-missing'],
  ['mcp', '', 'allow', 'protocol'],
] as const;
let i = 0;
const next = () => combos[i++ % combos.length]!;

const m = createMetrics({ defaultMetrics: false });
measure('requests.inc({door, route, decision, reason})', () => {
  const [door, route, decision, reason] = next();
  m.requests.inc({ door, route, decision, reason });
});
const children = combos.map(([door, route, decision, reason]) => m.requests.labels(door, route, decision, reason));
measure('prom-client child (labels() resolved once).inc()', () => children[i++ % children.length]!.inc());
const counted = m as unknown as { countRequest?: (door: string, route: string, decision: string, reason: string) => void };
if (counted.countRequest !== undefined) {
  const count = counted.countRequest;
  measure('countRequest(door, route, decision, reason)', () => {
    const [door, route, decision, reason] = next();
    count(door, route, decision, reason);
  });
}
