import type { DirectorySource, SourceRead } from './directory-source.js';
import { DEFAULTS } from '../config/defaults.js';

/** Settings for the HTTP source. */
export interface HttpSourceOptions {
  readonly url: string;
  /** Extra request headers (e.g. `Authorization`); their values are never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Poll period, ms (config `directory.refreshMs`, default 30 000 ms). */
  readonly refreshMs: number;
  /** Whole-request timeout, ms. Default: the smaller of 10 000 ms and `refreshMs`. */
  readonly timeoutMs?: number;
  /** Largest body accepted, bytes. Default 16 MiB. */
  readonly maxBytes?: number;
  readonly fetch?: typeof fetch;
}

const DEFAULT_MAX_BYTES = DEFAULTS.directoryMaxBytes;

/**
 * A directory served as JSON (or YAML, when the Content-Type says so) by an HTTP endpoint, polled
 * every `refreshMs` with `If-None-Match`, so an unchanged directory costs a 304.
 *
 * This does NOT follow redirects (a 3xx is an error: the configured headers, which may hold a
 * credential, must only go to the configured URL), does NOT verify anything beyond TLS about who
 * answered, and does NOT retry within one poll: a failed poll keeps the previous snapshot and the
 * next poll tries again.
 */
export function httpSource(options: HttpSourceOptions): DirectorySource {
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? Math.min(DEFAULTS.directoryFetchTimeoutMs, options.refreshMs);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const u = new URL(options.url);
  // The query may carry an API key: only the origin and path are ever shown.
  const shown = `${u.origin}${u.pathname}`;
  const closing = new AbortController();
  let etag: string | undefined;
  let timer: NodeJS.Timeout | undefined;

  return {
    describe: `url ${shown}`,

    async read(): Promise<SourceRead> {
      const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
      if (etag !== undefined) headers['if-none-match'] = etag;
      const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(timeoutMs)]);
      let res: Response;
      try {
        res = await doFetch(options.url, { headers, signal, redirect: 'manual' });
      } catch (err) {
        throw new Error(describeFetchError(err, timeoutMs), { cause: err });
      }
      if (res.status === 304) {
        await res.body?.cancel();
        return { changed: false };
      }
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel();
        const hint = res.status >= 300 && res.status < 400 ? ' (redirects are not followed: configure the final URL)' : '';
        throw new Error(`HTTP ${res.status}${hint}`);
      }
      let text: string;
      try {
        text = await readCapped(res, maxBytes);
      } catch (err) {
        throw new Error(describeFetchError(err, timeoutMs), { cause: err });
      }
      const contentType = res.headers.get('content-type') ?? '';
      const format = /yaml/i.test(contentType) ? 'yaml' : 'json';
      const received = res.headers.get('etag') ?? undefined;
      return { changed: true, text, format, accept: () => void (etag = received) };
    },

    watch(onChange: () => void): void {
      if (closing.signal.aborted) return;
      timer = setInterval(onChange, options.refreshMs);
      timer.unref();
    },

    close(): void {
      if (timer !== undefined) clearInterval(timer);
      closing.abort();
    },
  };
}

async function readCapped(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw new Error(`body larger than ${maxBytes} bytes`);
  }
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`body larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return err.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : 'aborted';
  }
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return code ?? (err instanceof Error ? err.message : 'fetch failed');
}
