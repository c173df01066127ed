import type { IncomingMessage } from 'node:http';
import { deny, type Deny } from '../pipeline/decision.js';
import { sendContinue } from './expect-continue.js';
import { DEFAULT_JSON_BOUNDS, scanJson, type JsonBounds } from './json-scan.js';
import { auditString } from './printable.js';
import { cutShort, onCutShort, type CutShort } from './request-cut-short.js';

export type ReadBodyResult = { ok: true; body: Buffer | undefined } | { ok: false; decision: Deny };

/** The body bound was passed: the rest of the body is not read, so the connection cannot be reused. */
function tooLarge(detail: string): ReadBodyResult {
  return { ok: false, decision: deny(413, 'body-too-large', 'request body too large', { detail, headers: { connection: 'close' } }) };
}

/**
 * The client broke off: it did not send the whole request within `server.requestTimeoutMs`, or
 * the parser refused the body's framing. The connection cannot be reused either way.
 */
function brokenOff(why: CutShort, size: number): ReadBodyResult {
  if (why.kind === 'malformed') {
    return {
      ok: false,
      decision: deny(400, 'malformed-request', 'malformed request', { detail: `request body framing refused by the HTTP parser (${why.code}, ${size} bytes read)`, headers: { connection: 'close' } }),
    };
  }
  return {
    ok: false,
    decision: deny(408, 'request-timeout', 'request timeout', { detail: `request body not received within server.requestTimeoutMs (${size} bytes read)`, headers: { connection: 'close' } }),
  };
}

/**
 * Reads a request body into memory, refusing it past `maxBytes` (413) without reading the rest.
 * The body is buffered on purpose: the signed assertion carries its digest, which must be known
 * before the first byte goes upstream. Responses are never buffered.
 *
 * A declared `Content-Length` past the bound is refused before anything is read, and before the
 * `100 Continue` a client that sent `Expect: 100-continue` waits for (`expect-continue.ts`): that
 * `100` is sent here, only for a body that will be read. A request the server marked as timed out
 * (`request-cut-short.ts`), before or while its body is read, is refused with 408
 * `request-timeout` (too slow) or 400 `malformed-request` (the parser refused its framing). Both refusals, and 413, say `Connection: close`: the rest of the body is
 * never read.
 *
 * This does NOT decode `Content-Encoding`: the bound applies to the bytes on the wire.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<ReadBodyResult> {
  const marked = cutShort(req);
  if (marked !== undefined) return Promise.resolve(brokenOff(marked, 0));
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.resolve(tooLarge(`content-length ${declared} > ${maxBytes}`));
  const hasBody = declared !== undefined ? Number(declared) > 0 : req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    // Drain anything unexpected so the connection stays usable.
    req.resume();
    return Promise.resolve({ ok: true, body: undefined });
  }
  sendContinue(req);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: ReadBodyResult) => {
      if (done) return;
      done = true;
      stopWaiting();
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onError);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        finish(tooLarge(`body > ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: size === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
    const onError = () => {
      const why = cutShort(req);
      finish(why !== undefined ? brokenOff(why, size) : { ok: false, decision: deny(400, 'bad-request', 'request body could not be read', { detail: 'client stream error' }) });
    };
    const stopWaiting = onCutShort(req, (why) => {
      req.pause();
      finish(brokenOff(why, size));
    });
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onError);
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
export function parseJsonBody(body: Buffer | string | undefined, contentType: string | undefined, bounds: JsonBounds = DEFAULT_JSON_BOUNDS): { ok: true; json: unknown } | { ok: false; decision: Deny } {
  if (body === undefined || !isJsonContentType(contentType)) return { ok: true, json: null };
  // A caller may pass the text it decoded already (a large body is decoded in its own turn).
  const text = typeof body === 'string' ? body : body.toString('utf8');
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
