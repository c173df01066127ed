import { canonicalJson } from '../lib/canonical-json.js';

/**
 * The canonical JSON of an audit record plus its `seq` and `prev`, written by a plan compiled
 * once per record shape instead of sorting keys and calling through closures for every record.
 * A shape is the list of the record's own keys in order: the pipeline builds every record with
 * the same one (auditRecordOf), so one plan serves the hot path; other shapes (a record read
 * back from the spool, a test's literal) get their own plan, and a few are kept.
 *
 * The text is byte for byte what `canonicalJson` writes for the same record with `seq` and
 * `prev` set (chain.ts states the rules; test/audit/record-text.test.ts checks it): the keys
 * sorted by UTF-16 code units, `undefined` members left out, strings and finite numbers as
 * `JSON.stringify` writes them, non-finite numbers as `null`, anything else (an object a caller
 * slipped in) through `canonicalJson`. The hash chain therefore stays the same.
 */

/** Where a slot's value comes from. */
const FIELD = 0;
const SEQ = 1;
const PREV = 2;

interface Plan {
  /** The record's own keys, in `Object.keys` order: the shape this plan serves. */
  readonly shape: readonly string[];
  /** Keys in canonical order, with `seq` and `prev` (a record's own `seq`/`prev`/`hash` are dropped). */
  readonly keys: readonly string[];
  readonly kinds: readonly number[];
  /** `"key":` for each key, and `,"key":` for each key that is not written first. */
  readonly heads: readonly string[];
  readonly commaHeads: readonly string[];
}

/** Plans kept; the pipeline needs one, tests and the spool a few more. */
const MAX_PLANS = 8;
const plans: Plan[] = [];
let nextEvicted = 0;

function sameShape(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compile(shape: readonly string[]): Plan {
  const keys = shape.filter((k) => k !== 'seq' && k !== 'prev' && k !== 'hash');
  keys.push('prev', 'seq');
  keys.sort();
  const heads = keys.map((k) => `${JSON.stringify(k)}:`);
  const plan: Plan = {
    shape: shape.slice(),
    keys,
    kinds: keys.map((k) => (k === 'seq' ? SEQ : k === 'prev' ? PREV : FIELD)),
    heads,
    commaHeads: heads.map((h) => `,${h}`),
  };
  if (plans.length < MAX_PLANS) plans.push(plan);
  else {
    plans[nextEvicted] = plan;
    nextEvicted = (nextEvicted + 1) % MAX_PLANS;
  }
  return plan;
}

function planFor(shape: readonly string[]): Plan {
  for (const plan of plans) if (sameShape(plan.shape, shape)) return plan;
  return compile(shape);
}

/**
 * What `JSON.stringify` escapes in a string: `"`, `\\`, C0 controls, and lone surrogates (any
 * surrogate here, paired or not: those strings just take the slow path). A string without any
 * is written as itself between quotes, ~2x faster than `JSON.stringify` for short ones.
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as `JSON.stringify` writes it. */
function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** One member's value as canonical JSON; `undefined` for a member that is left out. */
function valueText(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'number':
      // For a finite number JSON.stringify and String agree (both Number::toString, -0 as "0");
      // String is the faster for integers, JSON.stringify (~2x) for fractions such as latencyMs.
      return Number.isInteger(v) ? String(v) : Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return undefined;
    default:
      return canonicalJson(v);
  }
}

/**
 * The members of `rec` with `seq` and `prev`, as canonical JSON WITHOUT the enclosing braces
 * (`"argsDigest":...,"time":...`): the caller closes it as the hashed text, or with `hash`
 * appended as the stored line, without slicing. Never empty (`prev` and `seq` are always there).
 * Any `seq`, `prev` or `hash` member of `rec` is ignored.
 *
 * This does NOT check the record's content (no secrets, bounded strings): the pipeline builds
 * records that way.
 */
export function recordMembersText(rec: object, seq: number, prev: string): string {
  const fields = rec as Record<string, unknown>;
  const plan = planFor(Object.keys(fields));
  const { keys, kinds, heads, commaHeads } = plan;
  let text = '';
  for (let i = 0; i < keys.length; i++) {
    const kind = kinds[i];
    const value = kind === FIELD ? valueText(fields[keys[i]!]) : kind === SEQ ? valueText(seq) : quote(prev);
    if (value === undefined) continue;
    text += (text.length === 0 ? heads[i]! : commaHeads[i]!) + value;
  }
  return text;
}
