/**
 * Why a JWKS fetch starts: no keys are held (`load`), the held set is old (`age`), or a token
 * needs a key the held set may lack or hold wrongly (`token`: an unknown `kid`, or a signature
 * that fails under a known one). Only `token` fetches can be caused at will by whoever sends
 * requests, so only they draw on the flood bound.
 */
export type FetchCause = 'load' | 'age' | 'token';

/** The two knobs of `issuers[].jwksRefetch`, and the clock. */
export interface RefetchLimitOptions {
  /** Least time between the starts of two fetches, whatever their cause, in ms. */
  minIntervalMs: number;
  /** Fetches caused by tokens: the bucket's size and its refill per minute. */
  perMinute: number;
  /** Clock, ms since epoch. */
  now: () => number;
}

/**
 * When one issuer's JWKS may be fetched. Every fetch starts at least `minIntervalMs` after the
 * previous one. A fetch caused by a token also spends one credit of a bucket that holds at most
 * `perMinute` credits and gains one every `60 s / perMinute` (10 per minute: one every 6 s once
 * spent). So over any span of `t` ms a flood of tokens with random `kid`s causes at most
 * `perMinute + t * perMinute / 60 000` fetches, and a key rotation during such a flood is picked
 * up within `60 s / perMinute`.
 *
 * This does NOT fetch, wait, or know about fetches in flight (IssuerKeys does all three); it
 * only answers "how long until a fetch for this cause may start" and records starts. It does NOT
 * share its budget between gateway instances: the bound is per issuer and per instance.
 */
export class RefetchLimit {
  private readonly opts: RefetchLimitOptions;
  private readonly msPerCredit: number;
  private lastStartAt = -Infinity;
  private credits: number;
  private countedAt: number;

  constructor(opts: RefetchLimitOptions) {
    this.opts = opts;
    this.msPerCredit = 60_000 / opts.perMinute;
    this.credits = opts.perMinute;
    this.countedAt = opts.now();
  }

  /** Milliseconds until a fetch for `cause` may start; 0 means now. */
  waitMs(cause: FetchCause): number {
    const now = this.opts.now();
    const spacing = Math.max(0, this.lastStartAt + this.opts.minIntervalMs - now);
    if (cause !== 'token') return spacing;
    const credits = this.creditsAt(now);
    const refill = credits >= 1 ? 0 : Math.ceil((1 - credits) * this.msPerCredit);
    return Math.max(spacing, refill);
  }

  /** Record that a fetch for `cause` starts now (called once per fetch, whatever `waitMs` said). */
  started(cause: FetchCause): void {
    const now = this.opts.now();
    this.lastStartAt = now;
    if (cause !== 'token') return;
    this.credits = this.creditsAt(now) - 1;
    this.countedAt = now;
  }

  private creditsAt(now: number): number {
    const gained = Math.max(0, now - this.countedAt) / this.msPerCredit;
    return Math.min(this.opts.perMinute, this.credits + gained);
  }
}
