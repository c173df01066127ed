import { DEFAULTS } from '../config/defaults.js';

/**
 * The circuit breaker of one upstream MCP server. It counts health checks of the upstream as a
 * whole (connection attempts, and the `ping` a connection failure triggers), never a caller's
 * calls: a tool that breaks its own answer fails that call and leaves the circuit alone. After
 * `failures` checks in a row failed, the circuit opens: calls answer "upstream unavailable" at
 * once, without touching the upstream, and one trial connection is made after `openMs`
 * (doubling after each failed trial, up to `maxOpenMs`). A check that passes closes it.
 */

/** The breaker's settings (`upstreams[].circuit`, see docs/config.md). */
export interface CircuitSettings {
  /** Failed health checks in a row that open the circuit; default 3. */
  readonly failures: number;
  /** First wait before a trial connection (and before a background retry while closed), ms; default 500. */
  readonly openMs: number;
  /** Longest wait between trial connections while open, ms; default 30 000. */
  readonly maxOpenMs: number;
}

export const DEFAULT_CIRCUIT: CircuitSettings = Object.freeze({
  failures: DEFAULTS.upstreamCircuitFailures,
  openMs: DEFAULTS.upstreamCircuitOpenMs,
  maxOpenMs: DEFAULTS.upstreamCircuitMaxOpenMs,
});

/** What a failed check did to the circuit. */
export interface CheckFailed {
  /** This check opened the circuit (it was closed). */
  readonly opened: boolean;
  /** When to make the next connection attempt in the background, ms from now. */
  readonly retryInMs: number;
}

/** The state of one upstream's circuit. Not thread-shared: one event loop, one upstream. */
export class CircuitBreaker {
  private failedInRow = 0;
  private wait: number;
  private openUntil = 0;
  private isOpen = false;
  private openCount = 0;

  constructor(
    private readonly settings: CircuitSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.wait = settings.openMs;
  }

  /** Whether calls fail fast now: open, and its open period not over (then one trial may go). */
  get blocking(): boolean {
    return this.isOpen && this.now() < this.openUntil;
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** Times the circuit opened since the gateway started. */
  get opens(): number {
    return this.openCount;
  }

  /** Failed checks in a row so far. */
  get failures(): number {
    return this.failedInRow;
  }

  /** A health check passed. Returns whether that closed an open circuit. */
  passed(): boolean {
    const wasOpen = this.isOpen;
    this.failedInRow = 0;
    this.isOpen = false;
    this.wait = this.settings.openMs;
    return wasOpen;
  }

  /** A health check failed. */
  failed(): CheckFailed {
    this.failedInRow++;
    if (this.failedInRow < this.settings.failures) return { opened: false, retryInMs: this.settings.openMs };
    const opened = !this.isOpen;
    if (opened) this.openCount++;
    else this.wait = Math.min(this.wait * 2, this.settings.maxOpenMs);
    this.isOpen = true;
    this.openUntil = this.now() + this.wait;
    return { opened, retryInMs: this.wait };
  }
}
