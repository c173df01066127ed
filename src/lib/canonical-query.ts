import { auditString } from './printable.js';

/**
 * The one reading of a query string that policy decides on, the audit record names and the
 * backend receives (the query is forwarded byte for byte, so this reading must be the only one a
 * backend could reasonably make).
 */
export interface CanonicalQuery {
  /** Each decoded name that appears once, with its decoded value. CEL's `request.query`. */
  readonly single: ReadonlyMap<string, string>;
  /** Every decoded name with all its decoded values, in order. CEL's `request.queryAll`. */
  readonly all: ReadonlyMap<string, readonly string[]>;
}

/** Why a query has no single reading: the reason code, and a detail naming a parameter, never a value. */
export type QueryProblem = { readonly reason: 'query-repeated' | 'query-malformed'; readonly detail: string };

/** What to do with a name given more than once: refuse the request (the default) or keep every value. */
export type RepeatedQuery = 'refuse' | 'allow';

/** An empty query (no `?`, or nothing after it). */
export const EMPTY_QUERY: CanonicalQuery = Object.freeze({ single: new Map<string, string>(), all: new Map<string, readonly string[]>() });

/** Names longer than this (64 characters) are `[long name]` in a detail, as the audit path redacts them. */
const MAX_REPORTED_NAME = 64;

/**
 * Reads `search` (`?a=1&b=2`, or `''`) as `application/x-www-form-urlencoded`, the way
 * `URLSearchParams` and most servers do (pairs split on `&`, empty pairs skipped, a pair without
 * `=` is a name with the empty value, `+` is a space), with two differences that remove the
 * ambiguity:
 * - a name or value whose percent-encoding does not decode (`%zz`, a lone `%`, bytes that are not
 *   UTF-8) is `query-malformed`: `URLSearchParams` keeps `%zz` as it is and turns bad bytes into
 *   U+FFFD, other servers refuse or keep the bytes;
 * - names are compared after decoding and ASCII case folding, so `assignee`, `%61ssignee` and
 *   `Assignee` are one name (some frameworks match query names case-insensitively). A name given
 *   more than once is `query-repeated` unless `repeated` is `'allow'`; then `all` holds every
 *   value and `single` leaves the repeated name out, so a rule reading `request.query.<name>`
 *   fails to evaluate (and denies) instead of deciding on one of the values.
 *
 * Costs nothing for an empty query. The detail of a problem names the parameter, never a value.
 *
 * This does NOT treat `;` as a separator (`?a=1;a=2` is one `a` whose value is `1;a=2`, as
 * `URLSearchParams` reads it; a backend splitting on `;` reads two), does NOT normalise Unicode,
 * and does NOT look at the path.
 */
export function readQuery(search: string, repeated: RepeatedQuery = 'refuse'): { ok: true; query: CanonicalQuery } | { ok: false; problem: QueryProblem } {
  if (search.length <= 1) return { ok: true, query: EMPTY_QUERY };
  const all = new Map<string, string[]>();
  const folded = new Map<string, string>();
  for (const pair of search.slice(search.charCodeAt(0) === 0x3f ? 1 : 0).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const name = decode(rawName);
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    if (name === undefined) return { ok: false, problem: { reason: 'query-malformed', detail: 'query name does not decode (bad percent-encoding)' } };
    if (value === undefined) return { ok: false, problem: { reason: 'query-malformed', detail: `query value of "${reported(name)}" does not decode (bad percent-encoding)` } };
    const key = name.toLowerCase();
    const first = folded.get(key);
    if (first === undefined) {
      folded.set(key, name);
      all.set(name, [value]);
      continue;
    }
    if (repeated === 'refuse') {
      // Name the spelling as sent, so an operator sees `%61ssignee` or `Assignee`.
      const how = first === rawName ? '' : ` (also as "${reported(rawName)}")`;
      return { ok: false, problem: { reason: 'query-repeated', detail: `query parameter "${reported(first)}" repeated${how}` } };
    }
    all.get(first)!.push(value);
  }
  const single = new Map<string, string>();
  for (const [name, values] of all) if (values.length === 1) single.set(name, values[0]!);
  return { ok: true, query: { single, all } };
}

/** The names that were given more than once (only with `repeated: 'allow'`), for the audit detail. */
export function repeatedNames(query: CanonicalQuery): string[] {
  const out: string[] = [];
  for (const [name, values] of query.all) if (values.length > 1) out.push(reported(name));
  return out;
}

function decode(part: string): string | undefined {
  const spaced = part.includes('+') ? part.replaceAll('+', ' ') : part;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return undefined;
  }
}

function reported(name: string): string {
  return name.length > MAX_REPORTED_NAME ? '[long name]' : auditString(name, MAX_REPORTED_NAME);
}
