import { createHash } from 'node:crypto';

/**
 * Which argument and query values the audit record must not keep as they are: values that look
 * like credentials, by the name they are given or by their own shape. Such a value is kept as
 * {@link secretDigest}: two records carrying the same one can be matched, and the value itself
 * is not in the trail.
 */

/**
 * Names whose values are credentials whatever they look like (`password`, `client_secret`,
 * `access_token`, `apiKey`, `Authorization`, `private_key`, `cookie`, `pin`, `otp`, ...).
 * Matched case-insensitively anywhere in the name, except `pin` and `otp`, which must be the
 * whole name (`spinner`, `otpRequired` are not credentials).
 */
const SECRET_NAME = /passw|passphrase|secret|token|api[-_]?key|authori[sz]ation|credential|private[-_]?key|cookie|signature|^pin$|^otp$/i;

/** An HTTP credential as sent in a header (`Bearer ...`, `Basic ...`). */
const SCHEME_CREDENTIAL = /^\s*(?:bearer|basic|token|digest|dpop)\s+\S/i;

/** A JWT/JWS anywhere in the value: its header is base64url JSON, so it starts `eyJ`. */
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/;

/** Well-known API key prefixes (payment, source hosting, chat, cloud). */
const KEY_PREFIX = /^(?:sk|pk|rk)_(?:live|test)_|^sk-[A-Za-z0-9_-]{16,}|^gh[pousr]_[A-Za-z0-9]{20,}|^github_pat_|^xox[abposr]-|^AKIA[0-9A-Z]{16}$|^AIza[0-9A-Za-z_-]{30,}|^glpat-/;

/** A run of hex long enough to be a key or a session secret (32 hex digits = 128 bits). */
const LONG_HEX = /^[0-9a-fA-F]{32,}$/;

/** Base64 / base64url / URL-safe token alphabet, no spaces. */
const TOKEN_ALPHABET = /^[A-Za-z0-9+/=_\-.~]+$/;

/** Shortest value the entropy test looks at, characters; shorter random strings are ids more often than keys. */
const MIN_RANDOM_LENGTH = 20;

/** Bits per character from which a mixed-case alphanumeric string is taken for random. */
const MIN_BITS_PER_CHAR = 3.5;

/** Shannon entropy of `s` per character, bits. */
function bitsPerChar(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** True when `name` names a credential (see SECRET_NAME). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * True when `value` looks like a credential by its shape: an HTTP credential (`Bearer ...`), a
 * JWT anywhere in it, a known API key prefix, 32 or more hex digits, or a string of at least 20
 * characters from a token alphabet, with lower case, upper case and digits, and at least 3.5 bits
 * of entropy per character (random base64).
 *
 * This does NOT find every secret: a short password, a passphrase of words, a key in an
 * unusual alphabet pass as ordinary text unless their name gives them away
 * ({@link isSecretName}); an operator who knows an argument carries one sets the tool's
 * `audit.arguments` to leave it out. UUIDs and ordinary identifiers (`employee_42`) are kept.
 */
export function looksSecret(value: string): boolean {
  if (value.length < 8) return false;
  if (SCHEME_CREDENTIAL.test(value) || KEY_PREFIX.test(value) || LONG_HEX.test(value)) return true;
  if (value.includes('.') && JWT_SHAPE.test(value)) return true;
  if (value.length < MIN_RANDOM_LENGTH || !TOKEN_ALPHABET.test(value)) return false;
  if (!/[a-z]/.test(value) || !/[A-Z]/.test(value) || !/[0-9]/.test(value)) return false;
  return bitsPerChar(value) >= MIN_BITS_PER_CHAR;
}

/**
 * What the record keeps of a credential: `sha256:` and the first 16 hex digits (64 bits) of the
 * SHA-256 of its text (a number as its JSON text).
 *
 * This does NOT protect a guessable value: anyone holding the trail can hash a dictionary of
 * passwords or PINs and compare. It keeps a random token out of the trail; it does not make a
 * weak one safe.
 */
export function secretDigest(value: string | number): string {
  return `sha256:${createHash('sha256').update(String(value)).digest('hex').slice(0, 16)}`;
}
