import { Agent, type Dispatcher } from 'undici';
import type { WebhookSinkConfig } from '../config/schema-sinks.js';
import type { SendOutcome } from './sink-pump.js';

/**
 * The webhook sink's request: a batch of stored lines (the record's canonical JSON with its
 * `seq`, `prev` and `hash`, exactly as the trail holds it) POSTed as JSON Lines
 * (`application/x-ndjson`, one record per line, each line ending with `\n`) with the configured
 * headers. A receiver dedupes on `hash` (or `seq` with one gateway per trail): delivery is at
 * least once.
 */

/** Idle keep-alive connections to the receiver are closed after this long, ms. */
const KEEP_ALIVE_MS = 30_000;

/** A batch sender for one webhook: POST, then classify the answer. */
export interface WebhookSender {
  send(lines: readonly string[], signal: AbortSignal): Promise<SendOutcome>;
  close(): Promise<void>;
}

/**
 * The sender of `cfg`, on a connection pool of its own (never the backends'). Batches go as JSON
 * lines; with `json`, each batch is one JSON document (`application/json`: send batches of one). 2xx is success;
 * 408, 429 and 5xx, a network error or a timeout are retried (with the answer's Retry-After,
 * seconds or an HTTP date, when it has one); any other status drops the batch (the receiver
 * refused it, and would again). The answer's body is read and thrown away, never logged.
 *
 * This does NOT log or return the URL's path or query, nor any header value: they may hold the
 * receiver's secret. Reasons name the status or the error code only.
 */
export function createWebhookSender(cfg: Pick<WebhookSinkConfig, 'url' | 'headers' | 'timeoutMs'>, opts: { now?: () => number; json?: boolean } = {}): WebhookSender {
  const url = new URL(cfg.url);
  const agent = new Agent({ keepAliveTimeout: KEEP_ALIVE_MS, connections: 2, connectTimeout: cfg.timeoutMs });
  const now = opts.now ?? Date.now;
  const path = url.pathname + url.search;
  return {
    async send(lines, signal) {
      const body = opts.json === true ? (lines[0] ?? '') : `${lines.join('\n')}\n`;
      const timeout = AbortSignal.timeout(cfg.timeoutMs);
      let res: Dispatcher.ResponseData;
      try {
        res = await agent.request({
          origin: url.origin,
          path,
          method: 'POST',
          headers: { ...cfg.headers, 'content-type': opts.json === true ? 'application/json' : 'application/x-ndjson' },
          body,
          signal: AbortSignal.any([signal, timeout]),
          headersTimeout: cfg.timeoutMs,
          bodyTimeout: cfg.timeoutMs,
        });
      } catch (err) {
        return { ok: false, retry: true, reason: timeout.aborted ? `no answer within ${cfg.timeoutMs} ms` : `network error (${errorCode(err)})` };
      }
      res.body.resume();
      res.body.on('error', () => undefined);
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { ok: true };
      const retry = status === 408 || status === 429 || status >= 500;
      const after = retry ? retryAfterMs(res.headers['retry-after'], now()) : undefined;
      return after === undefined ? { ok: false, retry, reason: `HTTP ${status}` } : { ok: false, retry, reason: `HTTP ${status}`, retryAfterMs: after };
    },
    close: () => agent.close(),
  };
}

/** A Retry-After value in ms: delay-seconds or an HTTP date; `undefined` when absent or not one of those. */
export function retryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1_000;
  // An HTTP date starts with the day's name (`Sun, 06 Dec 2026 12:00:30 GMT`); Date.parse alone would take `-5` for a year.
  if (!/^[A-Za-z]{3}, /.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.name : 'error';
}
