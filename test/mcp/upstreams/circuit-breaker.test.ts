import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../../../src/mcp-upstream/circuit-breaker.js';

// The breaker of one upstream on a test clock: what opens it, how long it blocks, how its wait
// grows, and what closes it.

function breaker(failures = 3) {
  let now = 1_000;
  const circuit = new CircuitBreaker({ failures, openMs: 100, maxOpenMs: 350 }, () => now);
  return { circuit, advance: (ms: number) => (now += ms) };
}

describe('the upstream circuit breaker', () => {
  it('stays closed below `failures` checks failed in a row, retrying after openMs', () => {
    const { circuit } = breaker();
    assert.deepEqual(circuit.failed(), { opened: false, retryInMs: 100 });
    assert.deepEqual(circuit.failed(), { opened: false, retryInMs: 100 });
    assert.equal(circuit.open, false);
    assert.equal(circuit.blocking, false);
    assert.equal(circuit.failures, 2);
  });

  it('a passed check in between starts the count again', () => {
    const { circuit } = breaker();
    circuit.failed();
    circuit.failed();
    assert.equal(circuit.passed(), false, 'it was not open');
    circuit.failed();
    circuit.failed();
    assert.equal(circuit.open, false);
    assert.equal(circuit.opens, 0);
  });

  it('opens at the threshold, blocks for openMs, then lets a trial through; each failed trial doubles the wait up to maxOpenMs', () => {
    const { circuit, advance } = breaker();
    circuit.failed();
    circuit.failed();
    assert.deepEqual(circuit.failed(), { opened: true, retryInMs: 100 });
    assert.equal(circuit.open, true);
    assert.equal(circuit.blocking, true);
    assert.equal(circuit.opens, 1);
    advance(99);
    assert.equal(circuit.blocking, true);
    advance(1);
    assert.equal(circuit.blocking, false, 'the open period is over: one trial may go');
    assert.equal(circuit.open, true);
    assert.deepEqual(circuit.failed(), { opened: false, retryInMs: 200 });
    assert.equal(circuit.blocking, true);
    assert.deepEqual(circuit.failed(), { opened: false, retryInMs: 350 });
    assert.deepEqual(circuit.failed(), { opened: false, retryInMs: 350 });
    assert.equal(circuit.opens, 1, 'failed trials keep it open; they do not open it again');
  });

  it('a passed check closes it, resets the wait, and the next outage opens it again', () => {
    const { circuit } = breaker(1);
    assert.equal(circuit.failed().opened, true);
    circuit.failed();
    assert.equal(circuit.passed(), true, 'it was open');
    assert.equal(circuit.open, false);
    assert.equal(circuit.blocking, false);
    assert.deepEqual(circuit.failed(), { opened: true, retryInMs: 100 });
    assert.equal(circuit.opens, 2);
  });
});
