import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { CheckpointSink, StoredCheckpoint } from './checkpoint-format.js';

/** Options of {@link createCheckpointWebhook}. */
export interface CheckpointWebhookOptions {
  /** Most checkpoints waiting; past it the oldest is dropped. Default `DEFAULTS.auditCheckpointWebhookQueue` (1 000). */
  readonly maxQueue?: number;
  /** One attempt's deadline, ms. Default `DEFAULTS.auditCheckpointWebhookTimeoutMs` (5 s). */
  readonly timeoutMs?: number;
  /** Waits between attempts: from `retryMinMs` doubling up to `retryMaxMs`. Defaults 250 ms and 30 s. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** How long `close()` keeps trying to deliver what is queued, ms. Default 2 s. */
  readonly closeWaitMs?: number;
  /** The HTTP client (tests). Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  readonly logger?: Logger;
}

/** A webhook sink plus counters for tests and metrics. */
export interface CheckpointWebhook extends CheckpointSink {
  readonly stats: { delivered: number; dropped: number; failedAttempts: number };
  /** Checkpoints waiting to be delivered. */
  readonly pending: number;
}

/**
 * Ships each checkpoint to `url` as one `POST` of `application/json`
 * `{"type":"behalf-checkpoint","seq":..,"hash":"..","time":"..","kid":"..","jws":".."}`, in order,
 * one at a time; any 2xx is delivery. A failure (network, timeout, another status) is retried
 * with exponential backoff, forever while the gateway runs. At most `maxQueue` wait: past it the
 * oldest is dropped (a newer checkpoint covers every record an older one did, so the receiver
 * loses granularity, not coverage) and counted. Nothing in the request path waits for it.
 *
 * This does NOT authenticate the receiver beyond what the URL's scheme gives (use `https://`),
 * does NOT sign the request (the checkpoint itself is signed), and does NOT persist the queue:
 * checkpoints queued when the gateway stops undelivered are lost to the receiver (they stay in
 * the store). The URL may hold a secret: it is never logged, only its origin.
 */
export function createCheckpointWebhook(url: string, opts: CheckpointWebhookOptions = {}): CheckpointWebhook {
  const maxQueue = opts.maxQueue ?? DEFAULTS.auditCheckpointWebhookQueue;
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.auditCheckpointWebhookTimeoutMs;
  const retryMinMs = opts.retryMinMs ?? DEFAULTS.auditCheckpointWebhookRetryMinMs;
  const retryMaxMs = opts.retryMaxMs ?? DEFAULTS.auditCheckpointWebhookRetryMaxMs;
  const doFetch = opts.fetch ?? fetch;
  const origin = new URL(url).origin;
  const queue: StoredCheckpoint[] = [];
  const stats = { delivered: 0, dropped: 0, failedAttempts: 0 };
  const stop = new AbortController();
  let worker: Promise<void> | undefined;
  let closing = false;

  const send = async (cp: StoredCheckpoint): Promise<boolean> => {
    const body = JSON.stringify({ type: 'behalf-checkpoint', seq: cp.seq, hash: cp.hash, time: cp.time, kid: cp.kid, jws: cp.jws });
    try {
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        redirect: 'error',
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutMs)]),
      });
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return true;
      opts.logger?.warn({ origin, status: res.status, seq: cp.seq }, 'audit checkpoint webhook refused a checkpoint; retrying');
    } catch (err) {
      if (stop.signal.aborted) return false;
      opts.logger?.warn({ origin, seq: cp.seq, error: (err as Error).name }, 'audit checkpoint webhook unreachable; retrying');
    }
    stats.failedAttempts++;
    return false;
  };

  const run = async (): Promise<void> => {
    let wait = retryMinMs;
    while (queue.length > 0 && !stop.signal.aborted) {
      const cp = queue[0]!;
      if (await send(cp)) {
        if (queue[0] === cp) queue.shift();
        stats.delivered++;
        wait = retryMinMs;
        continue;
      }
      await sleep(wait, undefined, { signal: stop.signal }).catch(() => {});
      wait = Math.min(wait * 2, retryMaxMs);
    }
  };

  const kick = (): void => {
    worker ??= run().finally(() => {
      worker = undefined;
      if (queue.length > 0 && !stop.signal.aborted) kick();
    });
  };

  return {
    stats,
    get pending() {
      return queue.length;
    },
    push(cp) {
      if (closing) return;
      queue.push(cp);
      while (queue.length > maxQueue) {
        queue.shift();
        stats.dropped++;
      }
      kick();
    },
    async close() {
      closing = true;
      const timer = setTimeout(() => stop.abort(), opts.closeWaitMs ?? DEFAULTS.auditCheckpointWebhookCloseWaitMs);
      try {
        await worker;
      } finally {
        clearTimeout(timer);
        stop.abort();
      }
      if (queue.length > 0) opts.logger?.warn({ origin, undelivered: queue.length }, 'audit checkpoints not delivered to the webhook before stopping (they remain in the audit store)');
    },
  };
}
