import { DEFAULTS } from '../config/defaults.js';
import { nestsDeeper } from '../lib/json-depth.js';
import type { BackendFailure, ContentBlock, ToolCallResult } from './types.js';

/**
 * A backend's HTTP response as an MCP tool result. The result goes to the model, so it carries
 * what the backend answered on success, and on failure only a short message: never a stack
 * trace, a 5xx body or anything else from the backend's internals.
 */

/** A buffered backend response. */
export interface BackendResponse {
  readonly status: number;
  /** The `Content-Type` header, if any. */
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/** Longest excerpt of a 4xx error message shown to the model, in characters. */
export const MAX_ERROR_EXCERPT_CHARS = 200;

/**
 * Maps a 2xx response:
 * - JSON (`application/json` or `+json`): `structuredContent` is the value when it is an object;
 *   a top-level array is wrapped as `{ "items": [...] }` (MCP wants an object there); a JSON
 *   scalar gives no `structuredContent`. The text block holds the JSON (of `structuredContent`
 *   when there is one, as MCP advises). A body that does not parse is passed as text. A value
 *   nested more than `maxDepth - 1` levels (so the result object stays within `maxDepth`,
 *   `server.maxJsonDepth`) is replaced by an `isError` result saying so, before anything
 *   recursive (`JSON.stringify`) reads it; the record keeps the status and says why.
 * - `image/*` and `audio/*`: an image or audio block (base64).
 * - anything else: the body as UTF-8 text; an empty body says so (`backend answered 204 with no content`).
 *
 * Any other status is a failure result (`isError`), see {@link backendErrorResult}.
 */
export function toolResult(res: BackendResponse, maxDepth: number = DEFAULTS.jsonMaxDepth): ToolCallResult {
  if (res.status < 200 || res.status > 299) return backendErrorResult(res);
  const base = { upstreamStatus: res.status, detail: `backend answered ${res.status}` };
  const type = mediaType(res.contentType);
  if (res.body.length === 0) return { content: [text(`backend answered ${res.status} with no content`)], ...base };
  if (isJson(type)) {
    const parsed = parseJson(res.body);
    if (parsed.ok) {
      const value = parsed.value;
      if (nestsDeeper(value, maxDepth - 1)) {
        return { content: [text('the tool answered a result nested deeper than the gateway accepts')], isError: true, upstreamStatus: res.status, detail: `${base.detail}; result nested deeper than ${maxDepth} levels, replaced by an isError result` };
      }
      const structured = Array.isArray(value) ? { items: value } : value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
      if (structured === undefined) return { content: [text(JSON.stringify(value))], ...base };
      return { content: [text(JSON.stringify(structured))], structuredContent: structured, ...base };
    }
  }
  if (type.startsWith('image/') || type.startsWith('audio/')) {
    const block: ContentBlock = { type: type.startsWith('image/') ? 'image' : 'audio', data: res.body.toString('base64'), mimeType: type };
    return { content: [block], ...base };
  }
  return { content: [text(res.body.toString('utf8'))], ...base };
}

/**
 * The result for a backend that answered with a non-2xx status: `isError`, and the text
 * `backend answered 404`. For a 4xx only, a short message the backend gave is appended
 * (`backend answered 400: rating must be one of exceeds, meets, below`): the string `error`,
 * `message`, `error.message`, `detail` or `title` of a JSON body, or the first line of a
 * `text/plain` one, at most {@link MAX_ERROR_EXCERPT_CHARS} characters, control characters
 * removed. A 4xx says what was wrong with the request, which helps the model correct it. A 5xx
 * body is never shown: it is where stack traces and internals end up. `detail` (for the audit)
 * never holds an excerpt.
 *
 * This does NOT scrub what a 4xx message says: a backend that puts secrets in its 4xx error
 * messages leaks them to the model.
 */
export function backendErrorResult(res: BackendResponse): ToolCallResult {
  const head = `backend answered ${res.status}`;
  const excerpt = res.status >= 400 && res.status <= 499 ? errorExcerpt(res) : undefined;
  return { content: [text(excerpt === undefined ? head : `${head}: ${excerpt}`)], isError: true, upstreamStatus: res.status, detail: head };
}

/**
 * Why there is no (usable) backend response: the result the model sees, the audit detail, and
 * with `failure` the reason the request is recorded with (unreachable, too slow, broken).
 */
export function failureResult(message: string, detail: string, upstreamStatus?: number, failure?: BackendFailure): ToolCallResult {
  return { content: [text(message)], isError: true, detail, ...(upstreamStatus === undefined ? {} : { upstreamStatus }), ...(failure === undefined ? {} : { failure }) };
}

function text(value: string): ContentBlock {
  return { type: 'text', text: value };
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

function isJson(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

function errorExcerpt(res: BackendResponse): string | undefined {
  const type = mediaType(res.contentType);
  let message: unknown;
  if (isJson(type)) {
    const parsed = parseJson(res.body);
    if (!parsed.ok || parsed.value === null || typeof parsed.value !== 'object') return undefined;
    const v = parsed.value as Record<string, unknown>;
    const nested = v['error'] !== null && typeof v['error'] === 'object' ? (v['error'] as Record<string, unknown>)['message'] : undefined;
    message = [v['error'], v['message'], nested, v['detail'], v['title']].find((m) => typeof m === 'string' && m.trim() !== '');
  } else if (type === 'text/plain') {
    message = res.body.subarray(0, 4 * MAX_ERROR_EXCERPT_CHARS).toString('utf8').split('\n')[0];
  }
  if (typeof message !== 'string') return undefined;
  const clean = message.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (clean === '') return undefined;
  return clean.length > MAX_ERROR_EXCERPT_CHARS ? `${clean.slice(0, MAX_ERROR_EXCERPT_CHARS - 1)}…` : clean;
}
