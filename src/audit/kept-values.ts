import type { CanonicalQuery } from '../lib/canonical-query.js';
import { isSecretName, looksSecret, secretDigest } from './secret-shape.js';

/**
 * What an audit record keeps of a tool call's arguments or a route request's query, the same way
 * for both doors, so an operator can answer "whose reviews did Alice read" from the trail while
 * credentials stay out of it. Computed from what the door already parsed (the tool target's
 * arguments, the route's canonical query): nothing is parsed again.
 *
 * The setting (`tools[].audit.arguments`, `upstreams[].audit.arguments`, `routes[].audit.query`,
 * default `audit.arguments` / `audit.query`):
 * - `scalars` (the default): every top-level string, number, boolean or null; objects and arrays
 *   are left out (their names listed in `omitted`);
 * - `all`: every top-level value; objects and arrays are kept too, down to 4 levels and 64 values
 *   in all (past that a value is written `"…"`);
 * - `none`: nothing (the record's `argsDigest` / `path` still says what was sent);
 * - a list of names: those top-level values (objects and arrays included, as with `all`); the
 *   others are listed in `omitted`. Query names are compared case-insensitively (as the gateway
 *   reads the query).
 * Whatever the setting, a string is cut to 200 characters (then `…`), a value whose name or
 * shape says it is a credential (secret-shape.ts) is replaced by `sha256:<16 hex>`, at most 32
 * values are kept at the top level, names longer than 64 characters are left out (listed as
 * `[long name]`), and `omitted` lists at most 32 names.
 */

/** What the config says to keep. */
export type KeepSetting = 'scalars' | 'all' | 'none' | readonly string[];

/** A setting, compiled once (see keep-plan.ts). */
export interface KeepPlan {
  readonly mode: 'scalars' | 'all' | 'none' | 'named';
  /** `named`: the names kept (lower case for a query plan). */
  readonly names?: ReadonlySet<string>;
}

/** A value as the record keeps it. */
export type KeptValue = string | number | boolean | null | readonly KeptValue[] | { readonly [name: string]: KeptValue };

/** What the record keeps: the values (`args` / `query`) and the names left out (`omitted`). */
export interface Kept {
  readonly values?: Readonly<Record<string, KeptValue>>;
  readonly omitted?: readonly string[];
}

/** Longest string kept, characters (UTF-16 code units); longer ones end in `…`. */
export const MAX_KEPT_STRING = 200;
/** Most values kept at the top level, and most names listed in `omitted`. */
export const MAX_KEPT_NAMES = 32;
/** Longest name kept, characters. */
export const MAX_KEPT_NAME = 64;
/** `all` and named values: how deep, and how many values in all, nested objects and arrays are kept. */
export const MAX_NESTED_DEPTH = 4;
export const MAX_NESTED_VALUES = 64;

const CUT = '…';

/** Compiles a setting; `lowerCase` for query names. */
export function compileKeep(setting: KeepSetting, lowerCase = false): KeepPlan {
  if (typeof setting === 'string') return { mode: setting };
  return { mode: 'named', names: new Set(lowerCase ? setting.map((n) => n.toLowerCase()) : setting) };
}

/** `s` cut to {@link MAX_KEPT_STRING} characters (never between the halves of a surrogate pair). */
function bounded(s: string): string {
  if (s.length <= MAX_KEPT_STRING) return s;
  let end = MAX_KEPT_STRING;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return s.slice(0, end) + CUT;
}

/** A scalar as kept: a credential digested, a string bounded; undefined for a non-scalar. */
function scalar(value: unknown, secretName: boolean): KeptValue | undefined {
  switch (typeof value) {
    case 'string':
      return secretName || looksSecret(value) ? secretDigest(value) : bounded(value);
    case 'number':
      if (!Number.isFinite(value)) return null;
      return secretName ? secretDigest(value) : value;
    case 'boolean':
      return value;
    default:
      return value === null ? null : undefined;
  }
}

/** A nested value (`all`, named), within the depth and value budget. */
function nested(value: unknown, secretName: boolean, depth: number, budget: { left: number }): KeptValue {
  if (budget.left <= 0 || depth > MAX_NESTED_DEPTH) return CUT;
  budget.left--;
  const s = scalar(value, secretName);
  if (s !== undefined) return s;
  if (Array.isArray(value)) {
    const out: KeptValue[] = [];
    for (const item of value as unknown[]) {
      if (budget.left <= 0) {
        out.push(CUT);
        break;
      }
      out.push(nested(item, secretName, depth + 1, budget));
    }
    return out;
  }
  if (typeof value !== 'object') return null;
  const out: Record<string, KeptValue> = Object.create(null) as Record<string, KeptValue>;
  for (const name of Object.keys(value as object)) {
    if (budget.left <= 0) {
      out[CUT] = CUT;
      break;
    }
    const key = name.length > MAX_KEPT_NAME ? name.slice(0, MAX_KEPT_NAME) + CUT : name;
    out[key] = nested((value as Record<string, unknown>)[name], secretName || isSecretName(name), depth + 1, budget);
  }
  return out;
}

/** Collects kept values and omitted names, within their bounds. */
class Collector {
  private values: Record<string, KeptValue> | undefined;
  private omitted: string[] | undefined;
  private kept = 0;

  /** No more values will be kept: the rest are only named. */
  get keptFull(): boolean {
    return this.kept >= MAX_KEPT_NAMES;
  }

  /** Nothing more will be kept or named: the caller may stop looking. */
  get full(): boolean {
    return this.kept >= MAX_KEPT_NAMES && this.omitted !== undefined && this.omitted.length >= MAX_KEPT_NAMES;
  }

  keep(name: string, value: KeptValue): void {
    if (this.kept >= MAX_KEPT_NAMES) return this.omit(name);
    this.values ??= Object.create(null) as Record<string, KeptValue>;
    this.values[name] = value;
    this.kept++;
  }

  omit(name: string): void {
    this.omitted ??= [];
    if (this.omitted.length < MAX_KEPT_NAMES) this.omitted.push(name.length > MAX_KEPT_NAME ? '[long name]' : name);
  }

  result(): Kept | undefined {
    if (this.values === undefined && this.omitted === undefined) return undefined;
    return { ...(this.values === undefined ? {} : { values: this.values }), ...(this.omitted === undefined ? {} : { omitted: this.omitted }) };
  }
}

/**
 * What the record keeps of tool (or prompt) arguments under `plan` (see the file comment);
 * undefined when there is nothing to keep or list.
 *
 * This does NOT check the arguments against the tool's schema (screen(in) does) and does NOT
 * replace `argsDigest`: the digest still covers every argument as sent.
 */
export function keepArguments(args: Readonly<Record<string, unknown>> | undefined, plan: KeepPlan): Kept | undefined {
  if (args === undefined || plan.mode === 'none') return undefined;
  const out = new Collector();
  const budget = { left: MAX_NESTED_VALUES };
  for (const name of Object.keys(args)) {
    if (out.full) break;
    if (out.keptFull || name.length > MAX_KEPT_NAME || (plan.mode === 'named' && !plan.names!.has(name))) {
      out.omit(name);
      continue;
    }
    const value = args[name];
    const secretName = isSecretName(name);
    const s = scalar(value, secretName);
    if (s !== undefined) out.keep(name, s);
    else if (plan.mode === 'scalars') out.omit(name);
    else out.keep(name, nested(value, secretName, 1, budget));
  }
  return out.result();
}

/**
 * What the record keeps of a route request's query under `plan` (a plan compiled with
 * `lowerCase`): each parameter given once, by its decoded name; a parameter given several times
 * (only with `routes[].query.repeated: allow`) as the list of its values under `all` or when
 * named, else listed in `omitted`. Undefined when there is nothing to keep or list.
 *
 * This does NOT change the record's `path`, whose query values stay dropped unless
 * `audit.includeQueryValues` (kept as it was for compatibility).
 */
export function keepQuery(query: CanonicalQuery | undefined, plan: KeepPlan): Kept | undefined {
  if (query === undefined || query.all.size === 0 || plan.mode === 'none') return undefined;
  const out = new Collector();
  for (const [name, values] of query.all) {
    if (out.full) break;
    if (out.keptFull || name.length > MAX_KEPT_NAME || (plan.mode === 'named' && !plan.names!.has(name.toLowerCase()))) {
      out.omit(name);
      continue;
    }
    const secretName = isSecretName(name);
    if (values.length === 1) out.keep(name, scalar(values[0], secretName)!);
    else if (plan.mode === 'scalars') out.omit(name);
    else out.keep(name, values.slice(0, MAX_NESTED_VALUES).map((v) => scalar(v, secretName)!));
  }
  return out.result();
}
