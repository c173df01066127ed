/**
 * Quota periods: UTC calendar minutes, hours, days and months. A quota counts from the start of
 * the period the call falls in and starts again at zero on the next one, at the same instant on
 * every instance (whatever the machine's time zone).
 */

/** A quota period (`limits.rules[].quota.period`). */
export type QuotaPeriod = 'minute' | 'hour' | 'day' | 'month';

/** The period a time falls in: `[start, end)`, ms since epoch. */
export interface PeriodBounds {
  readonly start: number;
  readonly end: number;
}

const FIXED_MS: Record<Exclude<QuotaPeriod, 'month'>, number> = {
  minute: 60_000,
  hour: 3_600_000,
  // A UTC day in epoch time is always 86 400 s: epoch time has no leap seconds.
  day: 86_400_000,
};

/** The UTC calendar period of `period` kind that contains `now` (ms since epoch). */
export function periodOf(period: QuotaPeriod, now: number): PeriodBounds {
  if (period === 'month') {
    const d = new Date(now);
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth();
    return { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
  }
  const size = FIXED_MS[period];
  const start = Math.floor(now / size) * size;
  return { start, end: start + size };
}
