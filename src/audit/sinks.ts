import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { sinkName, type AuditSinkConfig, type OtlpSinkConfig } from '../config/schema-sinks.js';
import type { WrittenListener } from '../stores/types.js';
import type { SealedRecord } from './chain.js';
import type { AuditRecord } from './record.js';
import { SinkPump, type SinkItem, type SinkStatus } from './sink-pump.js';
import { createWebhookSender } from './webhook-sink.js';

/**
 * The configured `audit.sinks`, fed by the audit store as records are written (its
 * `onWritten`): each sink queues a copy and sends it on its own schedule. A sink never blocks,
 * slows or fails a request or the trail: its queue is bounded and drops the oldest records when
 * full (counted in `behalf_audit_sink_dropped_total`), and a failing receiver only shows in the
 * metrics, the logs and a `/readyz` detail (never as not ready). The trail in the store stays
 * the record of truth; `behalf audit query` can resend what a sink lost.
 */

/** One open sink. */
export interface AuditSink {
  readonly name: string;
  readonly type: AuditSinkConfig['type'];
  offer(record: AuditRecord, sealed: SealedRecord): void;
  status(): SinkStatus;
  close(drainMs: number): Promise<void>;
}

/** Every open sink, and the listener the audit store calls. */
export interface AuditSinks {
  readonly sinks: readonly AuditSink[];
  /** Pass to the audit store (`onWritten`): offers each written record to every sink. */
  readonly onWritten: WrittenListener;
  /** Sends what is queued for at most `drainMs` (default `DEFAULTS.auditSinkDrainMs`), then drops the rest; idempotent. */
  close(drainMs?: number): Promise<void>;
}

/** Options of {@link openAuditSinks}. */
export interface AuditSinksOptions {
  readonly logger?: Logger;
  /** Random numbers for retry jitter (tests). Default `Math.random`. */
  readonly random?: () => number;
}

/** A drop is logged at most this often per sink, ms (the metric counts every one). */
const DROP_LOG_INTERVAL_MS = 60_000;

/**
 * Opens the sinks of `configs`. An `otlp` sink loads the OpenTelemetry packages here (they are
 * never loaded without one), so a missing package fails start-up with `config-invalid`.
 *
 * This does NOT contact any receiver: a receiver that is down at start is retried like any
 * other failure.
 */
export async function openAuditSinks(configs: readonly AuditSinkConfig[], opts: AuditSinksOptions = {}): Promise<AuditSinks> {
  const sinks: AuditSink[] = [];
  try {
    for (const [i, cfg] of configs.entries()) {
      const name = sinkName(cfg, i);
      sinks.push(cfg.type === 'webhook' ? webhookSink(name, cfg, opts) : await otlpSink(name, cfg, opts));
    }
  } catch (err) {
    await Promise.all(sinks.map((s) => s.close(0)));
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    sinks,
    onWritten(records, sealed) {
      for (const sink of sinks) for (let i = 0; i < records.length; i++) sink.offer(records[i]!, sealed[i]!);
    },
    close(drainMs = DEFAULTS.auditSinkDrainMs) {
      closed ??= Promise.all(sinks.map((s) => s.close(drainMs))).then(() => undefined);
      return closed;
    },
  };
}

/** The pump's hooks: failures and recoveries logged once per streak, drops at most once a minute. */
function pumpHooks(name: string, type: string, logger: Logger | undefined) {
  let unlogged = 0;
  let lastLog = 0;
  return {
    onFailing(reason: string | undefined) {
      if (reason === undefined) logger?.info({ sink: name, type }, 'audit sink delivers again');
      else logger?.warn({ sink: name, type, reason }, 'audit sink cannot deliver; records wait in its queue');
    },
    onDropped(count: number, why: string) {
      unlogged += count;
      const now = Date.now();
      if (why !== 'queue-full' || now - lastLog >= DROP_LOG_INTERVAL_MS) {
        logger?.warn({ sink: name, type, dropped: unlogged, why }, 'audit sink dropped records (the audit store still holds them)');
        unlogged = 0;
        lastLog = now;
      }
    },
  };
}

function webhookSink(name: string, cfg: Extract<AuditSinkConfig, { type: 'webhook' }>, opts: AuditSinksOptions): AuditSink {
  const sender = createWebhookSender(cfg);
  const pump = new SinkPump<string>({
    batchMaxRecords: cfg.batchMaxRecords,
    flushMs: cfg.flushMs,
    maxQueue: cfg.maxQueue,
    retryMinMs: cfg.retryMinMs,
    retryMaxMs: cfg.retryMaxMs,
    retryAfterMaxMs: DEFAULTS.auditSinkRetryAfterMaxMs,
    send: (lines, signal) => sender.send(lines, signal),
    ...pumpHooks(name, 'webhook', opts.logger),
    ...(opts.random !== undefined ? { random: opts.random } : {}),
  });
  return {
    name,
    type: 'webhook',
    offer: (_record, sealed) => pump.offer(sealed.line),
    status: () => pump.status(),
    async close(drainMs) {
      await pump.close(drainMs);
      await sender.close();
    },
  };
}

async function otlpSink(name: string, cfg: OtlpSinkConfig, opts: AuditSinksOptions): Promise<AuditSink> {
  // Loaded on demand: without an otlp sink, the OpenTelemetry packages are never imported.
  const { createOtlpSender } = await import('./otlp-sink.js');
  const sender = await createOtlpSender(cfg);
  const pump = new SinkPump<SinkItem>({
    batchMaxRecords: cfg.batchMaxRecords,
    flushMs: cfg.flushMs,
    maxQueue: cfg.maxQueue,
    retryMinMs: DEFAULTS.auditSinkRetryMinMs,
    retryMaxMs: DEFAULTS.auditSinkRetryMaxMs,
    retryAfterMaxMs: DEFAULTS.auditSinkRetryAfterMaxMs,
    send: (items, signal) => sender.send(items, signal),
    ...pumpHooks(name, 'otlp', opts.logger),
    ...(opts.random !== undefined ? { random: opts.random } : {}),
  });
  return {
    name,
    type: 'otlp',
    offer: (record, sealed) => pump.offer({ record, sealed }),
    status: () => pump.status(),
    async close(drainMs) {
      await pump.close(drainMs);
      await sender.close();
    },
  };
}
