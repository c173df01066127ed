import { DEFAULT_JSON_BOUNDS, scanJson, type JsonBounds, type JsonSpan } from '../../lib/json-scan.js';
import { auditString } from '../../lib/printable.js';
import { RPC } from './protocol.js';

/** A JSON-RPC id as MCP allows it: a string or an integer, never null. */
export type RpcId = string | number;

/** One client message, classified. `params` is always an object (MCP never uses array params). */
export type RpcMessage =
  | {
      readonly kind: 'request';
      readonly id: RpcId;
      readonly method: string;
      readonly params: Readonly<Record<string, unknown>>;
      /** Bytes of the JSON text of `params.arguments` as sent, when there is such a member. */
      readonly argumentsBytes?: number;
    }
  | { readonly kind: 'notification'; readonly method: string; readonly params: Readonly<Record<string, unknown>> }
  | { readonly kind: 'response'; readonly id: RpcId; readonly answer: ClientAnswer };

/** A client's answer to a request the gateway sent it: a result object, or a JSON-RPC error. */
export type ClientAnswer =
  | { readonly ok: true; readonly result: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly code: number; readonly message: string; readonly data?: unknown };

/** Why a body is not one acceptable JSON-RPC message: the code to answer with, and the id when it could be read. */
export interface RpcProblem {
  readonly code: number;
  readonly message: string;
  readonly id?: RpcId;
  /** The reason code when it is not `bad-request`. */
  readonly reason?: 'json-duplicate-key' | 'json-too-deep' | 'json-too-many-values';
  /** The HTTP status when it is not 400: 413 for too many values. */
  readonly status?: number;
}

/** The outcome of {@link parseRpcMessage}. */
export type ParseResult = { ok: true; message: RpcMessage } | { ok: false; problem: RpcProblem };

const NO_PARAMS: Readonly<Record<string, unknown>> = Object.freeze({});

/** Member paths the scan measures: the id (to answer a refused message with it) and a tool call's arguments. */
const MEASURED = [['id'], ['params', 'arguments']] as const;

/**
 * Parses a POST body as exactly one JSON-RPC 2.0 message. The text is scanned once before it is
 * parsed (`lib/json-scan.ts`): a message nested deeper than `bounds.maxDepth` levels is refused
 * (reason `json-too-deep`), one holding more than `bounds.maxValues` values too (413,
 * `json-too-many-values`), with -32602 when the bound was crossed inside `params` (a tool's
 * arguments, most often) and -32600 when elsewhere in the envelope; the answer carries the id
 * when it came before the problem. Batches are refused (-32600): the 2025-06-18 revision removed
 * them and later ones did not bring them back. Invalid JSON is -32700; a message of the wrong
 * shape is -32600; params that are not an object are -32602. A message with an object that
 * names a key twice, at any depth (tool arguments included; keys compared after unescaping), is
 * -32600 with reason `json-duplicate-key`: `JSON.parse` keeps the last value, and the same bytes
 * may reach an upstream that keeps the first. A request whose params have an `arguments` member
 * gets `argumentsBytes`, its size as sent, for the tool's bound (screen(in)).
 *
 * This does NOT check the method or the params' contents (resolve and screen do), and does NOT
 * bound the size in bytes (the body was read with a bound). `JSON.parse` makes `__proto__` an
 * ordinary own key, and nothing here merges objects, so no key can reach a prototype.
 */
export function parseRpcMessage(body: Buffer | string | undefined, bounds: JsonBounds = DEFAULT_JSON_BOUNDS): ParseResult {
  if (body === undefined || body.length === 0) return fail(RPC.parseError, 'Parse error: empty body');
  // A caller may pass the text it decoded already (a large body is decoded in its own turn).
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const scan = scanJson(text, bounds, MEASURED);
  if (!scan.ok) {
    const inParams = scan.under === 'params';
    const deep = scan.problem === 'too-deep';
    const what = deep ? `nested deeper than ${bounds.maxDepth} levels` : `more than ${bounds.maxValues} JSON values`;
    const problem: RpcProblem = {
      code: inParams ? RPC.invalidParams : RPC.invalidRequest,
      message: inParams ? `Invalid params: ${what}` : `Invalid Request: ${what}`,
      reason: deep ? 'json-too-deep' : 'json-too-many-values',
      ...(deep ? {} : { status: 413 }),
    };
    const id = idOf(text, scan.spans[0]);
    return { ok: false, problem: id === undefined ? problem : { ...problem, id } };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail(RPC.parseError, 'Parse error: invalid JSON');
  }
  const repeated = scan.duplicateKey;
  if (repeated !== undefined) {
    // An id given twice is itself ambiguous: answer without one.
    const id = isObject(value) && repeated !== 'id' ? readId(value) : undefined;
    const problem: RpcProblem = { code: RPC.invalidRequest, message: `Invalid Request: duplicate key "${auditString(repeated, 64)}"`, reason: 'json-duplicate-key' };
    return { ok: false, problem: id === undefined ? problem : { ...problem, id } };
  }
  if (Array.isArray(value)) return fail(RPC.invalidRequest, 'Invalid Request: batches are not supported');
  if (!isObject(value)) return fail(RPC.invalidRequest, 'Invalid Request: not a JSON-RPC message');
  const id = readId(value);
  if (value['jsonrpc'] !== '2.0') return fail(RPC.invalidRequest, 'Invalid Request: jsonrpc must be "2.0"', id);
  const hasId = Object.hasOwn(value, 'id');
  if (hasId && id === undefined) return fail(RPC.invalidRequest, 'Invalid Request: id must be a string or an integer');

  if (Object.hasOwn(value, 'method')) {
    const method = value['method'];
    if (typeof method !== 'string' || method === '') return fail(RPC.invalidRequest, 'Invalid Request: method must be a non-empty string', id);
    const params = value['params'];
    if (params !== undefined && !isObject(params)) return fail(RPC.invalidParams, 'Invalid params: params must be an object', id);
    const p = params ?? NO_PARAMS;
    if (id === undefined) return { ok: true, message: { kind: 'notification', method, params: p } };
    const span = scan.spans[1];
    const argumentsBytes = span === undefined ? undefined : Buffer.byteLength(text.slice(span.start, span.end), 'utf8');
    return { ok: true, message: argumentsBytes === undefined ? { kind: 'request', id, method, params: p } : { kind: 'request', id, method, params: p, argumentsBytes } };
  }
  if (id !== undefined && (Object.hasOwn(value, 'result') || Object.hasOwn(value, 'error'))) {
    const answer = answerOf(value);
    if (answer === undefined) return fail(RPC.invalidRequest, 'Invalid Request: a response needs an object result or an error with a code and a message', id);
    return { ok: true, message: { kind: 'response', id, answer } };
  }
  return fail(RPC.invalidRequest, 'Invalid Request: neither a request, a notification nor a response', id);
}

/** A plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function answerOf(value: Record<string, unknown>): ClientAnswer | undefined {
  if (Object.hasOwn(value, 'result')) {
    const result = value['result'];
    return isObject(result) && !Object.hasOwn(value, 'error') ? { ok: true, result } : undefined;
  }
  const error = value['error'];
  if (!isObject(error) || typeof error['message'] !== 'string' || typeof error['code'] !== 'number' || !Number.isSafeInteger(error['code'])) return undefined;
  return Object.hasOwn(error, 'data') ? { ok: false, code: error['code'], message: error['message'], data: error['data'] } : { ok: false, code: error['code'], message: error['message'] };
}

/** The id of a message that was not parsed, from its span (a string or an integer, as {@link readId}). */
function idOf(text: string, span: JsonSpan | undefined): RpcId | undefined {
  if (span === undefined || span.end - span.start > 1_024) return undefined;
  try {
    return readId({ id: JSON.parse(text.slice(span.start, span.end)) as unknown });
  } catch {
    return undefined;
  }
}

function readId(value: Record<string, unknown>): RpcId | undefined {
  const id = value['id'];
  if (typeof id === 'string') return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id;
  return undefined;
}

function fail(code: number, message: string, id?: RpcId): ParseResult {
  return { ok: false, problem: id === undefined ? { code, message } : { code, message, id } };
}

/** The JSON text of a result response. */
export function resultMessage(id: RpcId, result: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result });
}

/**
 * The JSON text of an error response. `id` is left out when it could not be read (MCP's schema
 * makes it optional there, and null is not a valid MCP id).
 */
export function errorMessage(id: RpcId | undefined, code: number, message: string, data?: unknown): string {
  const error = data === undefined ? { code, message } : { code, message, data };
  return JSON.stringify(id === undefined ? { jsonrpc: '2.0', error } : { jsonrpc: '2.0', id, error });
}

/** The JSON text of a notification (progress, log messages, from the server). */
export function notificationMessage(method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', method, params });
}

/** The JSON text of a request the gateway sends the client (a relayed `sampling/createMessage`, ...). */
export function requestMessage(id: RpcId, method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}
