/**
 * Canonical JSON (the JSON Canonicalization Scheme, RFC 8785, for the values behalf hashes: audit
 * records, tool arguments, pinned tool definitions): objects with keys sorted by UTF-16 code
 * units and `undefined` members left out, arrays in order (`undefined` as `null`), strings and
 * numbers as `JSON.stringify` writes them, non-finite numbers as `null`. docs/audit.md restates
 * it so a third party can re-implement verification.
 */

/** Canonical JSON text of `value` (see the file comment). Pure; never throws for JSON-able data. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return canonicalObject(Object.keys(obj).sort(), (key) => obj[key]);
}

/**
 * Canonical text of an object whose keys, already in canonical order, are `sortedKeys`, with
 * values from `valueOf` (so sealing can add `seq`/`prev` without copying the record). String
 * concatenation beats building a sorted copy for `JSON.stringify` on V8 (measured ~3.5 us vs
 * ~5 us for a 20-field record).
 */
export function canonicalObject(sortedKeys: readonly string[], valueOf: (key: string) => unknown): string {
  let text = '{';
  for (const key of sortedKeys) {
    const v = valueOf(key);
    if (v === undefined) continue;
    if (text.length > 1) text += ',';
    text += `${JSON.stringify(key)}:${typeof v === 'string' ? JSON.stringify(v) : canonicalJson(v)}`;
  }
  return `${text}}`;
}
