import { createHash } from 'node:crypto';

/**
 * A client-chosen string as it may appear in an audit record or a message: at most `max`
 * characters, printable ASCII, anything else as `?`.
 *
 * This does NOT make the string safe for HTML or a shell; it only keeps records one line of
 * bounded, visible text.
 */
export function printable(value: string, max: number): string {
  return value.slice(0, max).replace(/[^\x20-\x7e]/g, '?');
}

/** A JWT (or JWS) anywhere in a string: three base64url parts, the first two long enough to be one. */
const TOKEN_SHAPE = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A client-chosen string (a tool name, a resource URI, a prompt name, a protocol method) as the
 * audit record keeps it: at most `max` characters of the original, then escaped **reversibly**:
 * printable ASCII as it is, `\` as `\\`, tab, CR and LF as `\t`, `\r`, `\n`, any other character
 * as `\uXXXX` (JSON's escapes), so `get_reviews\t` and `get_reviews\n` stay two different
 * names in the trail and an operator can read what was sent. Anything shaped like a JWT is
 * replaced by `[token sha256:<first 16 hex of its SHA-256>]`, so a token pasted into a tool name
 * never lands in the trail, yet two requests carrying the same one can be matched.
 *
 * This does NOT detect secrets of other shapes (API keys, passwords): screening does (issue
 * "Screen what flows both ways").
 */
export function auditString(value: string, max: number): string {
  const bounded = value.length > max ? value.slice(0, max) : value;
  const masked = bounded.includes('.') ? bounded.replace(TOKEN_SHAPE, (t) => `[token sha256:${createHash('sha256').update(t).digest('hex').slice(0, 16)}]`) : bounded;
  if (/^[\x20-\x5b\x5d-\x7e]*$/.test(masked)) return masked;
  let out = '';
  for (const ch of masked) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code <= 0x7e && ch !== '\\') out += ch;
    else if (ESCAPES[ch] !== undefined) out += ESCAPES[ch];
    else if (code > 0xffff) out += `\\u${(0xd800 + ((code - 0x10000) >> 10)).toString(16).padStart(4, '0')}\\u${(0xdc00 + ((code - 0x10000) & 0x3ff)).toString(16).padStart(4, '0')}`;
    else out += `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return out;
}
