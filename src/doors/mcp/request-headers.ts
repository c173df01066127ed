import type { IncomingHttpHeaders } from 'node:http';
import type { ToolDefinition } from '../../tools/types.js';
import { isObject } from './jsonrpc.js';
import { HEADER } from './protocol.js';

/**
 * The stateless revision (2026-07-28) mirrors body fields into headers so intermediaries can
 * route without parsing the body: `Mcp-Method`, `Mcp-Name` (for `tools/call`, `resources/read`,
 * `prompts/get`) and `Mcp-Param-{Name}` for tool arguments marked `x-mcp-header`. A server that
 * reads the body MUST refuse a request whose headers are missing or differ (400, -32020), so a
 * component deciding on the header and one acting on the body can never disagree.
 */

/** A header's single value; undefined when absent. Repeated headers arrive joined with ", " and so never match. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;
// RFC 9110 field value characters: visible ASCII, space and tab.
const PLAIN = /^[\t\x20-\x7e]*$/;

/**
 * Decodes an `Mcp-Name` / `Mcp-Param-*` value: plain visible ASCII as is, or the
 * `=?base64?...?=` form as UTF-8. Undefined for a value that is neither (bad characters,
 * bad base64, invalid UTF-8).
 */
export function decodeHeaderValue(raw: string): string | undefined {
  const m = SENTINEL.exec(raw);
  if (m === null) return PLAIN.test(raw) ? raw : undefined;
  const bytes = Buffer.from(m[1]!, 'base64');
  // Node's decoder skips junk silently; re-encoding catches non-canonical input.
  if (bytes.toString('base64') !== m[1]) return undefined;
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}

/** Methods whose `Mcp-Name` header mirrors a body field, and which field. */
const NAME_FIELD: Readonly<Record<string, 'name' | 'uri'>> = { 'tools/call': 'name', 'resources/read': 'uri', 'prompts/get': 'name' };

/**
 * Checks `Mcp-Method` and `Mcp-Name` against a stateless request's body. Returns a short
 * message naming the header when they do not match, else undefined.
 *
 * This does NOT check `MCP-Protocol-Version` (resolve compares it with `_meta`) nor
 * `Mcp-Param-*` (see {@link checkParamHeaders}, which needs the tool).
 */
export function checkRoutingHeaders(headers: IncomingHttpHeaders, method: string, params: Readonly<Record<string, unknown>>): string | undefined {
  const sentMethod = headerValue(headers, HEADER.method);
  if (sentMethod === undefined) return 'Mcp-Method header is required';
  if (sentMethod !== method) return 'Mcp-Method header does not match the body';
  const field = Object.hasOwn(NAME_FIELD, method) ? NAME_FIELD[method] : undefined;
  if (field === undefined) return undefined;
  const rawName = headerValue(headers, HEADER.name);
  if (rawName === undefined) return 'Mcp-Name header is required';
  const name = decodeHeaderValue(rawName);
  if (name === undefined) return 'Mcp-Name header is malformed';
  return name === params[field] ? undefined : 'Mcp-Name header does not match the body';
}

/** One argument a tool marks with `x-mcp-header`: where it is and which header mirrors it. */
interface MirroredArgument {
  readonly path: readonly string[];
  readonly header: string;
}

const MAX_DEPTH = 8;
const MAX_MIRRORED = 64;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const mirroredCache = new WeakMap<ToolDefinition, readonly MirroredArgument[]>();

/** The arguments a tool's input schema mirrors into headers (only through `properties`, as the spec requires). */
function mirroredArguments(tool: ToolDefinition): readonly MirroredArgument[] {
  let found = mirroredCache.get(tool);
  if (found !== undefined) return found;
  const out: MirroredArgument[] = [];
  const walk = (schema: unknown, path: string[]) => {
    if (!isObject(schema) || path.length > MAX_DEPTH || out.length >= MAX_MIRRORED) return;
    const props = schema['properties'];
    if (!isObject(props)) return;
    for (const key of Object.keys(props)) {
      const prop = props[key];
      if (!isObject(prop)) continue;
      const header = prop['x-mcp-header'];
      if (typeof header === 'string' && TOKEN.test(header)) out.push({ path: [...path, key], header: `${HEADER.paramPrefix}${header.toLowerCase()}` });
      walk(prop, [...path, key]);
    }
  };
  walk(tool.inputSchema, []);
  found = Object.freeze(out);
  mirroredCache.set(tool, found);
  return found;
}

/**
 * Checks every `Mcp-Param-{Name}` header the tool's schema asks for against the arguments: a
 * present, non-null argument needs its header, equal after decoding (integers compared as
 * numbers, booleans as `true`/`false`). Returns a message naming the header, or undefined.
 *
 * This does NOT validate the arguments themselves (screen does) and ignores `Mcp-Param-*`
 * headers the schema does not ask for (the spec says to forward and otherwise ignore them).
 */
export function checkParamHeaders(headers: IncomingHttpHeaders, tool: ToolDefinition, args: Readonly<Record<string, unknown>>): string | undefined {
  for (const m of mirroredArguments(tool)) {
    let value: unknown = args;
    for (const key of m.path) value = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    if (value === undefined || value === null) continue;
    const raw = headerValue(headers, m.header);
    if (raw === undefined) return `${m.header} header is required`;
    const sent = decodeHeaderValue(raw);
    if (sent === undefined) return `${m.header} header is malformed`;
    const same =
      typeof value === 'string' ? sent === value : typeof value === 'number' ? sent.trim() !== '' && Number(sent) === value : typeof value === 'boolean' ? sent === String(value) : true;
    if (!same) return `${m.header} header does not match the body`;
  }
  return undefined;
}
