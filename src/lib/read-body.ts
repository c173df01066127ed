import type { IncomingMessage } from 'node:http';
import { deny, type Deny } from '../pipeline/decision.js';
import { DEFAULT_JSON_BOUNDS, scanJson, type JsonBounds } from './json-scan.js';
import { auditString } from './printable.js';

export type ReadBodyResult = { ok: true; body: Buffer | undefined } | { ok: false; decision: Deny };

/**
 * Reads a request body into memory, refusing it past `maxBytes` (413) without reading the rest.
 * The body is buffered on purpose: the signed assertion carries its digest, which must be known
 * before the first byte goes upstream. Responses are never buffered.
 *
 * This does NOT decode `Content-Encoding`: the bound applies to the bytes on the wire.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<ReadBodyResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.resolve({ ok: false, decision: deny(413, 'body-too-large', 'request body too large', { detail: `content-length ${declared} > ${maxBytes}` }) });
  }
  const hasBody = declared !== undefined ? Number(declared) > 0 : req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    // Drain anything unexpected so the connection stays usable.
    req.resume();
    return Promise.resolve({ ok: true, body: undefined });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: ReadBodyResult) => {
      if (done) return;
      done = true;
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        finish({ ok: false, decision: deny(413, 'body-too-large', 'request body too large', { detail: `body > ${maxBytes} bytes` }) });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: size === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
    const onError = () => finish({ ok: false, decision: deny(400, 'bad-request', 'request body could not be read', { detail: 'client stream error' }) });
    const onAborted = onError;
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** True for `application/json` and `application/*+json`. */
export function isJsonContentType(value: string | undefined): boolean {
  return value !== undefined && JSON_TYPE.test(value);
}

/**
 * Parses a JSON body for policy conditions. The text is scanned once first (`lib/json-scan.ts`),
 * and a body past `bounds` is refused before it is parsed: nested deeper than `maxDepth` levels
 * (400 `json-too-deep`), or holding more than `maxValues` values (413 `json-too-many-values`), so
 * nothing that reads the value later (CEL, a backend) recurses without end or blocks the event
 * loop for long. A body that claims to be JSON and is not is refused (400 `bad-request`) rather
 * than passed on unexamined: policy would otherwise decide on `body == null`. A body with an
 * object that names a key twice is refused (400 `json-duplicate-key`, the audit `detail` naming
 * the key, never a value): `JSON.parse` keeps the last value, a backend may keep the first, and
 * the raw bytes are what is forwarded.
 *
 * This does NOT look at a body whose Content-Type is not JSON (policy sees `body == null` then,
 * and no bound but the byte size applies), nor decode `Content-Encoding`.
 */
export function parseJsonBody(body: Buffer | undefined, contentType: string | undefined, bounds: JsonBounds = DEFAULT_JSON_BOUNDS): { ok: true; json: unknown } | { ok: false; decision: Deny } {
  if (body === undefined || !isJsonContentType(contentType)) return { ok: true, json: null };
  const text = body.toString('utf8');
  const scan = scanJson(text, bounds);
  if (!scan.ok) {
    return scan.problem === 'too-deep'
      ? { ok: false, decision: deny(400, 'json-too-deep', 'request body is nested too deeply', { detail: `JSON nested deeper than ${bounds.maxDepth} levels` }) }
      : { ok: false, decision: deny(413, 'json-too-many-values', 'request body holds too many JSON values', { detail: `JSON with more than ${bounds.maxValues} values` }) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    return { ok: false, decision: deny(400, 'bad-request', 'request body is not valid JSON', { detail: 'invalid JSON body' }) };
  }
  const repeated = scan.duplicateKey;
  if (repeated !== undefined) {
    return { ok: false, decision: deny(400, 'json-duplicate-key', 'request body names a key twice', { detail: `duplicate JSON key "${auditString(repeated, 64)}"` }) };
  }
  return { ok: true, json };
}
