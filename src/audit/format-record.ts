import { canonicalJson } from '../lib/canonical-json.js';
import type { KeptValue } from './kept-values.js';
import type { AuditRecord } from './record.js';

/**
 * One audit record as one human line, for `behalf audit tail` and `query`. Fields come from
 * tokens and requests, so control characters are escaped: a user id must not be able to move
 * the operator's cursor or recolour their terminal.
 */

// Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `s` with control characters written as `\xNN` / `\uNNNN`; `-` for a missing value. */
export function printable(s: string | number | undefined): string {
  if (s === undefined || s === '') return '-';
  return String(s).replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Column widths, characters. Longer values push the line out rather than being cut. */
const COLUMNS = [
  ['TIME', 24],
  ['USER', 10],
  ['CLIENT', 16],
  ['REQUEST', 36],
  ['DECISION', 8],
  ['REASON', 18],
  ['RULE', 26],
  ['STATUS', 6],
  ['LATENCY', 0],
] as const;

function latency(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

function join(cells: string[]): string {
  return cells.map((c, i) => (i < COLUMNS.length - 1 ? c.padEnd(COLUMNS[i]![1]) : c)).join('  ').trimEnd();
}

/** The header line matching {@link formatRecordLine}. */
export function formatHeaderLine(): string {
  return join(COLUMNS.map(([name]) => name));
}

/** A kept value as typed after `name=`: a plain word bare, anything else as JSON. */
function shownValue(value: KeptValue): string {
  if (typeof value === 'string' && /^[^\s"=]+$/.test(value)) return value;
  return canonicalJson(value);
}

/** ` name=value ...` of kept arguments or query parameters, or `''`. */
function shownKept(kept: Readonly<Record<string, KeptValue>> | undefined): string {
  if (kept === undefined) return '';
  let out = '';
  for (const name of Object.keys(kept).sort()) out += ` ${/^[^\s"=]+$/.test(name) ? name : JSON.stringify(name)}=${shownValue(kept[name]!)}`;
  return out;
}

/**
 * The request cell: for the MCP door the JSON-RPC method and what it names, with the kept
 * arguments (`tools/call hr.get_reviews employee=bob`, `resources/read hr://handbook`,
 * `initialize`); for a route `METHOD /path`, with the kept query parameters after the path
 * (`GET /api/hr/reviews employee=bob`); `tool <name>` for a tool record without a method.
 */
function requestOf(rec: AuditRecord): string {
  if (rec.rpcMethod !== undefined) {
    const what = rec.tool ?? rec.resource ?? rec.prompt;
    return printable(`${rec.rpcMethod}${what === undefined ? '' : ` ${what}`}${shownKept(rec.args)}`);
  }
  if (rec.tool !== undefined) return printable(`tool ${rec.tool}${shownKept(rec.args)}`);
  if (rec.query !== undefined) {
    const q = rec.path.indexOf('?');
    return printable(`${rec.method} ${q === -1 ? rec.path : rec.path.slice(0, q)}${shownKept(rec.query)}`);
  }
  return `${printable(rec.method)} ${printable(rec.path)}`;
}

/** Readable names of client ids (config `clients`), for {@link formatRecordLine}. */
export type ClientNames = ReadonlyMap<string, string>;

/**
 * `time user client request decision reason rule status latency`, where request is described
 * by requestOf (above), client is the configured name of the client id when `names` has one,
 * and status is `intent` on the intent record of a change (written before it was forwarded;
 * its outcome follows).
 */
export function formatRecordLine(rec: AuditRecord, names?: ClientNames): string {
  const request = requestOf(rec);
  const client = rec.client === undefined ? undefined : (names?.get(rec.client) ?? rec.client);
  return join([
    printable(rec.time),
    printable(rec.user),
    printable(client),
    request,
    printable(rec.decision),
    printable(rec.reason),
    printable(rec.ruleId),
    rec.phase === 'intent' ? 'intent' : printable(rec.status),
    latency(rec.latencyMs),
  ]);
}
