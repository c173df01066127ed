/**
 * One pass over an untrusted JSON text, before anything else reads it: how deep it nests, how
 * many values it holds, whether an object names a key twice, and where one member's value lies.
 *
 * Depth and size: `JSON.parse` itself is iterative, but much of what reads a value after it is not
 * (`JSON.stringify`, schema validation, CEL, a backend's own parser): a body nested 10,000 levels
 * ended in `RangeError: Maximum call stack size exceeded`. And parsing costs per value: a 1 MiB
 * body of `{},{},...` took ~47 ms of `JSON.parse`, all of it blocking the event loop. So the text
 * is bounded in both before it is parsed, and the scan stops at the first value past a bound.
 *
 * Duplicate keys: RFC 8259 only says names SHOULD be unique, and parsers disagree on what a
 * repeated one means: `JSON.parse` keeps the last value, many Go, Java and Python configurations
 * keep the first or refuse. A gateway that decides on one reading and forwards the raw bytes to a
 * backend holding the other lets `{"employee":"mallory","employee":"bob"}` be allowed for bob and
 * served for mallory. So a body with a repeated key is refused wherever one is parsed.
 */

import { DEFAULTS } from '../config/defaults.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Keys longer than this (64 characters) are reported as `[long key]`, never in full. */
const MAX_REPORTED_KEY = 64;

/** Bounds on one JSON text. */
export interface JsonBounds {
  /** Most levels of nested arrays and objects: `{}` and `[1]` are 1 level, `{"a":[1]}` 2. */
  readonly maxDepth: number;
  /** Most values (every object, array, string, number, `true`, `false`, `null`; keys are not values). */
  readonly maxValues: number;
}

/** The bounds when the config sets none (`server.maxJsonDepth`, `server.maxJsonValues`). */
export const DEFAULT_JSON_BOUNDS: JsonBounds = Object.freeze({ maxDepth: DEFAULTS.jsonMaxDepth, maxValues: DEFAULTS.jsonMaxValues });

/** The bounds the server config sets. */
export function jsonBoundsOf(server: { readonly maxJsonDepth: number; readonly maxJsonValues: number }): JsonBounds {
  return { maxDepth: server.maxJsonDepth, maxValues: server.maxJsonValues };
}

/** Where one member's value lies in the text: `text.slice(start, end)` is exactly its JSON text. */
export interface JsonSpan {
  readonly start: number;
  readonly end: number;
}

/** The outcome of {@link scanJson}. */
export type JsonScan =
  | {
      readonly ok: true;
      /** The first key some object names twice (see {@link findDuplicateKey}), if any. */
      readonly duplicateKey: string | undefined;
      /** Spans of the members asked for, in the order asked (`undefined`: not present as a member). */
      readonly spans: readonly (JsonSpan | undefined)[];
    }
  | {
      readonly ok: false;
      readonly problem: 'too-deep' | 'too-many-values';
      /** The top-level object's member inside which the bound was crossed, when there is one. */
      readonly under: string | undefined;
      /** The spans asked for that ended before the bound was crossed. */
      readonly spans: readonly (JsonSpan | undefined)[];
    };

/** One open container: its keys for an object (`null` for an array), and its member key path. */
interface Frame {
  readonly keys: Set<string> | null;
  /**
   * The key path from the top-level object to this container (`''` for the top-level container,
   * `'params'` for the object under its `params` key), or `null` off the paths that are tracked:
   * inside an array, or deeper than two keys.
   */
  readonly path: string | null;
}

const NO_SPANS: readonly (readonly string[])[] = [];
const SEP = '\u0000';

/**
 * Scans `text` once, left to right, and stops at the first value past `bounds`. Linear in the
 * text: strings are skipped with `indexOf`, and only keys are kept (one `Set` per open object).
 * `members` asks for the spans of member values by key path from the top-level object (at most
 * two keys: `['id']`, `['params', 'arguments']`), so a caller can bound or read one member
 * without parsing the rest.
 *
 * The text need not be valid JSON (a caller may scan before `JSON.parse`, so a text past a bound
 * is never parsed), but the answer means something only for valid JSON: a caller refuses an
 * invalid text on `JSON.parse`'s word and ignores the scan's `duplicateKey` and spans then.
 *
 * This does NOT validate the text, compare keys after Unicode normalisation (`"é"` and
 * `"e\u0301"` are different keys, as they are to every JSON parser), nor look inside string
 * values that hold JSON.
 */
export function scanJson(text: string, bounds: JsonBounds, members: readonly (readonly string[])[] = NO_SPANS): JsonScan {
  const frames: Frame[] = [];
  const wanted = members.map((m) => m.join(SEP));
  const spans: (JsonSpan | undefined)[] = members.map(() => undefined);
  // The span being measured: its index in `spans`, where it started, and the depth its value opens at.
  let open = -1;
  let openStart = 0;
  let openDepth = 0;
  let duplicateKey: string | undefined;
  let expectKey = false;
  /** The key path of the value about to start, or `null` when it is not on a tracked path. */
  let valuePath: string | null = '';
  /** The last key read in the top-level object: the member a problem is inside of. */
  let topKey: string | undefined;
  let values = 0;
  let inScalar = false;
  const n = text.length;
  let i = 0;

  const startValue = (at: number): boolean => {
    if (++values > bounds.maxValues) return false;
    if (open === -1 && valuePath !== null && valuePath !== '' && wanted.length > 0) {
      const k = wanted.indexOf(valuePath);
      if (k !== -1 && spans[k] === undefined) {
        open = k;
        openStart = at;
        openDepth = frames.length;
      }
    }
    return true;
  };
  const endValue = (at: number): void => {
    if (open !== -1 && frames.length === openDepth) {
      spans[open] = { start: openStart, end: at };
      open = -1;
    }
  };
  const fail = (problem: 'too-deep' | 'too-many-values'): JsonScan => {
    const inTopObject = frames.length > 0 && frames[0]!.keys !== null;
    return { ok: false, problem, under: inTopObject ? topKey : undefined, spans };
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      inScalar = false;
      const end = stringEnd(text, i);
      const frame = frames.length === 0 ? undefined : frames[frames.length - 1]!;
      if (expectKey && frame !== undefined && frame.keys !== null) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? unescapeKey(raw) : raw;
        if (duplicateKey === undefined && frame.keys.has(key)) duplicateKey = key.length > MAX_REPORTED_KEY ? '[long key]' : key;
        frame.keys.add(key);
        expectKey = false;
        if (frames.length === 1) topKey = key;
        valuePath = frame.path === null || frames.length > 2 ? null : frame.path === '' ? key : `${frame.path}${SEP}${key}`;
      } else {
        if (!startValue(i)) return fail('too-many-values');
        endValue(end + 1);
      }
      i = end + 1;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      inScalar = false;
      if (!startValue(i)) return fail('too-many-values');
      if (frames.length >= bounds.maxDepth) return fail('too-deep');
      frames.push({ keys: c === OPEN_OBJECT ? new Set() : null, path: frames.length < 2 ? valuePath : null });
      expectKey = c === OPEN_OBJECT;
      valuePath = null;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (inScalar) endValue(i);
      inScalar = false;
      frames.pop();
      expectKey = false;
      endValue(i + 1);
    } else if (c === COMMA) {
      if (inScalar) endValue(i);
      inScalar = false;
      const frame = frames.length === 0 ? undefined : frames[frames.length - 1]!;
      expectKey = frame !== undefined && frame.keys !== null;
      valuePath = null;
    } else if (c === COLON) {
      inScalar = false;
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      if (inScalar) endValue(i);
      inScalar = false;
    } else if (!inScalar) {
      // The first character of a number, `true`, `false` or `null`.
      inScalar = true;
      if (!startValue(i)) return fail('too-many-values');
    }
    i++;
  }
  if (inScalar) endValue(n);
  return { ok: true, duplicateKey, spans };
}

/**
 * The first key that some object of `text` names twice (keys compared after unescaping, so
 * `"employee"` and `"\u0065mployee"` are the same key), or `undefined` when every object's keys
 * are unique. Keys longer than 64 characters are reported as `[long key]`. No bounds: for a text
 * that was already bounded (or scanned with {@link scanJson}, which reports the same key).
 */
export function findDuplicateKey(text: string): string | undefined {
  const scan = scanJson(text, UNBOUNDED);
  return scan.ok ? scan.duplicateKey : undefined;
}

const UNBOUNDED: JsonBounds = { maxDepth: Number.POSITIVE_INFINITY, maxValues: Number.POSITIVE_INFINITY };

/** A key with escapes, unescaped; a malformed escape (only in invalid JSON) is kept as written. */
function unescapeKey(raw: string): string {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** The index of the quote closing the string that opens at `start` (the text's length when none does). */
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
