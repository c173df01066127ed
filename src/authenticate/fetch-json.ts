import { BehalfError, type ErrorCode } from '../errors.js';
import { DEFAULTS } from '../config/defaults.js';

/** Default bound on one discovery or JWKS request, in milliseconds (5 s). */
export const DEFAULT_FETCH_TIMEOUT_MS = DEFAULTS.idpFetchTimeoutMs;

/** Default bound on a discovery document or JWK set, in bytes (512 KiB: real sets are a few KiB). */
export const DEFAULT_FETCH_MAX_BYTES = DEFAULTS.idpFetchMaxBytes;

/** How the authenticate stage talks to an identity provider. */
export interface FetchJsonOptions {
  fetch: typeof globalThis.fetch;
  /** Abort the request after this many milliseconds. */
  timeoutMs: number;
  /** Refuse a body larger than this many bytes. */
  maxBytes: number;
  /** Error code used when anything goes wrong (`discovery-failed` or `jwks-fetch-failed`). */
  code: ErrorCode;
}

/**
 * GET a JSON object from an identity provider, with a timeout and a size bound.
 *
 * Redirects are not followed (`redirect: 'manual'`, as jose does for JWKS): a discovery document
 * or key set that moved is a configuration change an operator should make on purpose.
 *
 * This does NOT check what the object contains (callers validate the fields they use), and does
 * NOT cache anything. Errors carry the URL and HTTP status only, never the body.
 *
 * @throws BehalfError with `opts.code` on network failure, timeout, non-200 status, oversize body
 *   or a body that is not a JSON object.
 */
export async function fetchJson(url: string, opts: FetchJsonOptions): Promise<Record<string, unknown>> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  try {
    let res: Response;
    try {
      res = await opts.fetch(url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: controller.signal,
      });
    } catch (cause) {
      const why = controller.signal.aborted ? `timed out after ${opts.timeoutMs} ms` : 'network error';
      throw new BehalfError(opts.code, `GET ${url}: ${why}`, { cause });
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new BehalfError(opts.code, `GET ${url}: HTTP ${res.status}`);
    }
    const text = await readBounded(res, opts.maxBytes, url, opts.code, controller.signal, opts.timeoutMs);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new BehalfError(opts.code, `GET ${url}: body is not JSON`, { cause });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new BehalfError(opts.code, `GET ${url}: body is not a JSON object`);
    }
    return parsed as Record<string, unknown>;
  } finally {
    clearTimeout(timer);
  }
}

async function readBounded(
  res: Response,
  maxBytes: number,
  url: string,
  code: ErrorCode,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new BehalfError(code, `GET ${url}: body over ${maxBytes} bytes`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new BehalfError(code, `GET ${url}: body over ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof BehalfError) throw cause;
    const why = signal.aborted ? `timed out after ${timeoutMs} ms` : 'read error';
    throw new BehalfError(code, `GET ${url}: ${why}`, { cause });
  }
  return Buffer.concat(chunks).toString('utf8');
}
