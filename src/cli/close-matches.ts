/**
 * Names close to a mistyped one, for usage errors: `--reason no-matching-rules` suggests
 * `no-matching-rule`. Close means a few edits away, or one name containing the other.
 */

/** Levenshtein distance, stopping early once it exceeds `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      row.push(v);
      best = Math.min(best, v);
    }
    if (best > max) return max + 1;
    prev = row;
  }
  return prev[b.length]!;
}

/** Up to `limit` of `known` close to `given`, closest first. */
export function closeMatches(given: string, known: readonly string[], limit = 3): string[] {
  const g = given.toLowerCase();
  const max = Math.max(2, Math.floor(g.length / 4));
  return known
    .map((k) => ({ k, d: g.length >= 3 && (k.includes(g) || g.includes(k)) ? 0.5 : distance(g, k, max) }))
    .filter((m) => m.d <= max)
    .sort((a, b) => a.d - b.d || (a.k < b.k ? -1 : 1))
    .slice(0, limit)
    .map((m) => m.k);
}

/** `did you mean a, b or c?` or, with nothing close, where the full list is. */
export function suggestion(given: string, known: readonly string[], whereListed: string): string {
  const close = closeMatches(given, known);
  if (close.length === 0) return `see ${whereListed}`;
  const list = close.length === 1 ? close[0]! : `${close.slice(0, -1).join(', ')} or ${close.at(-1)!}`;
  return `did you mean ${list}?`;
}
