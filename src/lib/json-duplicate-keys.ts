/**
 * Finding an object that names the same key twice in a JSON text.
 *
 * RFC 8259 only says names SHOULD be unique, and parsers disagree on what a repeated one means:
 * `JSON.parse` keeps the last value, many Go, Java and Python configurations keep the first or
 * refuse. A gateway that decides on one reading and forwards the raw bytes to a backend holding
 * the other lets `{"employee":"mallory","employee":"bob"}` be allowed for bob and served for
 * mallory. So a body with a repeated key is refused wherever one is parsed.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** Keys longer than this (64 characters) are reported as `[long key]`, never in full. */
const MAX_REPORTED_KEY = 64;

/**
 * The first key that some object of `text` names twice (keys compared after unescaping, so
 * `"employee"` and `"\u0065mployee"` are the same key), or `undefined` when every object's keys
 * are unique. Keys longer than 64 characters are reported as `[long key]`.
 *
 * `text` must already be valid JSON (call this after `JSON.parse` succeeded): the scan relies on
 * it and does not validate. One pass, linear in the text; strings are skipped with `indexOf`, and
 * only keys are kept (one `Set` per open object), so a large body of values costs little.
 *
 * This does NOT compare keys after Unicode normalisation (`"é"` and `"e\u0301"` are different
 * keys, as they are to every JSON parser), nor look inside string values that hold JSON.
 */
export function findDuplicateKey(text: string): string | undefined {
  // One frame per open container: a Set of the keys seen for an object, null for an array.
  const frames: (Set<string> | null)[] = [];
  let expectKey = false;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      const frame = frames.length === 0 ? null : frames[frames.length - 1]!;
      if (expectKey && frame !== null) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (frame.has(key)) return key.length > MAX_REPORTED_KEY ? '[long key]' : key;
        frame.add(key);
        expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === OPEN_OBJECT) {
      frames.push(new Set());
      expectKey = true;
    } else if (c === OPEN_ARRAY) {
      frames.push(null);
      expectKey = false;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      frames.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = frames.length > 0 && frames[frames.length - 1] !== null;
    }
    i++;
  }
  return undefined;
}

/** The index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let at = text.indexOf('"', start + 1);
  while (at !== -1) {
    // The quote is escaped when an odd number of backslashes precede it.
    let slashes = 0;
    for (let j = at - 1; j > start && text.charCodeAt(j) === BACKSLASH; j--) slashes++;
    if (slashes % 2 === 0) return at;
    at = text.indexOf('"', at + 1);
  }
  return text.length;
}
