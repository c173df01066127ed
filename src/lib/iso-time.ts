/**
 * `new Date(ms).toISOString()` for the current time, without a Date and a full format per
 * request: the `YYYY-MM-DDTHH:MM:SS.` part is kept for the second it names and the milliseconds
 * come from a table. Exact to the millisecond for any time (not only the latest: a clock that
 * steps back just formats the other second); outside years 1970-9999 or for a fractional value
 * it falls back to Date, so the result is always what `toISOString` gives.
 */

/** `000` ... `999`. */
const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** 9999-12-31T23:59:59.999Z: past it toISOString writes a six-digit signed year. */
const LAST_FOUR_DIGIT_YEAR_MS = 253402300799999;

let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * ISO-8601 UTC text of the epoch milliseconds `ms`, identical to `new Date(ms).toISOString()`.
 *
 * This does NOT validate `ms` beyond what Date does: a non-finite value throws the same
 * RangeError.
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > LAST_FOUR_DIGIT_YEAR_MS) return new Date(ms).toISOString();
  const millis = ms % 1000;
  const second = ms - millis;
  if (second !== cachedSecond) {
    cachedPrefix = new Date(second).toISOString().slice(0, 20);
    cachedSecond = second;
  }
  return cachedPrefix + MILLIS[millis]! + 'Z';
}
