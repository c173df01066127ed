import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { CounterCells } from '../../src/observe/counter-cells.js';
import { createMetrics } from '../../src/observe/metrics.js';

const LABELS = ['door', 'route', 'decision', 'reason'] as const;

/** A counter counted through cells, and its twin counted by direct `inc`, each on its own registry. */
function twins(labelNames: readonly string[]) {
  const direct = new Registry();
  const celled = new Registry();
  const plain = new Counter({ name: 'behalf_x_total', help: 'x', labelNames, registers: [direct] });
  const cells = new CounterCells(labelNames);
  const counter = new Counter({
    name: 'behalf_x_total',
    help: 'x',
    labelNames,
    registers: [celled],
    collect() {
      cells.flushInto(this);
    },
  });
  cells.attach(counter);
  return { direct, celled, plain, cells, counter };
}

test('counting through cells scrapes exactly as direct inc, across scrapes, series in first-seen order', async () => {
  const t = twins(LABELS);
  const values = [['http', 'mcp'], ['hr', '', 'payroll', 'hr.lookup'], ['allow', 'deny'], ['allowed-by-rule', 'token-missing', 'denied-by-rule']];
  let seed = 3;
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 500; i++) {
      const v = values.map((xs) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return xs[seed % xs.length]!;
      });
      t.plain.inc({ door: v[0]!, route: v[1]!, decision: v[2]!, reason: v[3]! });
      t.cells.inc(v[0]!, v[1], v[2], v[3]);
    }
    assert.equal(await t.celled.metrics(), await t.direct.metrics(), `round ${round}`);
  }
  assert.deepEqual((await t.counter.get()).values, (await t.plain.get()).values);
});

test('past the cell bound, new combinations are counted on the counter directly, and nothing is lost', async () => {
  const t = twins(['route']);
  for (let i = 0; i < 10_050; i++) {
    t.cells.inc(`r${i}`);
    t.plain.inc({ route: `r${i}` });
  }
  t.cells.inc('r10049');
  t.plain.inc({ route: 'r10049' });
  t.cells.inc('r0');
  t.plain.inc({ route: 'r0' });
  const sum = (vs: { value: number }[]) => vs.reduce((a, v) => a + v.value, 0);
  const got = (await t.counter.get()).values;
  assert.equal(got.length, 10_050);
  assert.equal(sum(got), 10_052);
  assert.deepEqual(new Map(got.map((v) => [v.labels.route, v.value])), new Map((await t.plain.get()).values.map((v) => [v.labels.route, v.value])));
});

test("the gateway's per-request counts show in behalf_requests_total and behalf_limit_decisions_total", async () => {
  const m = createMetrics({ defaultMetrics: false });
  m.countRequest('http', 'hr', 'allow', 'allowed-by-rule');
  m.countRequest('http', 'hr', 'allow', 'allowed-by-rule');
  m.countRequest('mcp', '', 'deny', 'token-missing');
  m.countLimitDecision('per-user', 'deny');
  const text = await m.registry.metrics();
  assert.match(text, /^behalf_requests_total\{door="http",route="hr",decision="allow",reason="allowed-by-rule"\} 2$/m);
  assert.match(text, /^behalf_requests_total\{door="mcp",route="",decision="deny",reason="token-missing"\} 1$/m);
  assert.match(text, /^behalf_limit_decisions_total\{rule="per-user",outcome="deny"\} 1$/m);
  assert.throws(() => new CounterCells([]), RangeError);
});
