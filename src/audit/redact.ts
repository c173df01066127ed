/**
 * What of a request path goes into the audit record. Query values often carry personal data or
 * credentials (`?email=...`, `?code=...`), so by default only the parameter names are kept.
 */

/** Query keys longer than this (64 characters) are more likely a credential than a name. */
const MAX_KEY_LENGTH = 64;

/**
 * The path to record for `pathWithQuery` (an HTTP request target such as `/api/x?a=1&b=2`).
 * - `includeQueryValues: false` (the default in config): `/api/x?a=&b=`: every key kept, in
 *   order, with its value dropped; a key longer than 64 characters becomes `[redacted]`; empty
 *   pairs (`&&`) are dropped.
 * - `includeQueryValues: true`: the query is kept as sent.
 * A fragment (`#...`) is always dropped: servers never need it and it can hold a token.
 *
 * This does NOT redact the path itself (`/reset/<token>`): routes that carry secrets in path
 * segments need their own rule. It does NOT decode or normalise percent-encoding.
 */
export function redactPath(pathWithQuery: string, includeQueryValues: boolean): string {
  const hashAt = pathWithQuery.indexOf('#');
  const target = hashAt === -1 ? pathWithQuery : pathWithQuery.slice(0, hashAt);
  const q = target.indexOf('?');
  if (q === -1 || includeQueryValues) return target;
  const keys: string[] = [];
  for (const pair of target.slice(q + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    keys.push(`${key.length > MAX_KEY_LENGTH ? '[redacted]' : key}=`);
  }
  return keys.length === 0 ? target.slice(0, q) : `${target.slice(0, q)}?${keys.join('&')}`;
}
