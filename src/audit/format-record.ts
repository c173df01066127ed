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

/**
 * `time user client request decision reason rule status latency`, where request is
 * `METHOD /path` for HTTP routes and `tool <name>` for tools, and status is `intent` on the
 * intent record of a change (written before it was forwarded; its outcome follows).
 */
export function formatRecordLine(rec: AuditRecord): string {
  const request = rec.tool !== undefined ? `tool ${printable(rec.tool)}` : `${printable(rec.method)} ${printable(rec.path)}`;
  return join([
    printable(rec.time),
    printable(rec.user),
    printable(rec.client),
    request,
    printable(rec.decision),
    printable(rec.reason),
    printable(rec.ruleId),
    rec.phase === 'intent' ? 'intent' : printable(rec.status),
    latency(rec.latencyMs),
  ]);
}
