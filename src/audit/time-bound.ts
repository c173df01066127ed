/**
 * Time bounds for audit queries as people type them: a duration back from now (`30s`, `15m`,
 * `2h`, `2d`, `1w`) or an ISO-8601 date / date-time.
 */

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION_RE = /^(\d{1,9})(s|m|h|d|w)$/;
const ISO_RE = /^(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

/** What {@link parseTimeBound} accepts, for error messages. */
export const TIME_BOUND_HELP = 'a duration like 30s, 15m, 2h, 2d or 1w, or an ISO date like 2025-05-01 or 2025-05-01T10:00:00Z';

/**
 * Parse `value` into an instant. A duration means "that long before `now`" (epoch ms). A date
 * without a time is midnight UTC; a date-time without an offset is local time (as in
 * `Date.parse`). Returns `undefined` for anything else, including impossible dates
 * (`2025-02-30`).
 */
export function parseTimeBound(value: string, now: number): Date | undefined {
  const text = value.trim();
  const d = DURATION_RE.exec(text);
  if (d !== null) return new Date(now - Number(d[1]) * UNIT_MS[d[2] as keyof typeof UNIT_MS]);
  const iso = ISO_RE.exec(text);
  if (iso === null) return undefined;
  const t = Date.parse(text);
  if (Number.isNaN(t)) return undefined;
  // V8 rolls impossible days over (Feb 30 -> Mar 2); a date-only value must come back unchanged.
  if (text.length === 10 && new Date(t).toISOString().slice(0, 10) !== iso[1]) return undefined;
  return new Date(t);
}
