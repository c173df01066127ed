import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { headerName, httpUrl, id } from './schema-fields.js';

/**
 * `audit.sinks`: copies of every audit record sent elsewhere as they are written (a SIEM's
 * webhook, an OpenTelemetry collector). Part of the audit section (schema-operations.ts). The
 * trail in the audit store stays the record of truth; a sink may lose records (docs/audit.md).
 */

/** Headers the sink sets itself, or that would break the request: refused in `headers`. */
const RESERVED = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);

/** Extra request headers (a receiver's token: `Authorization: "Bearer ${SIEM_TOKEN}"`); values never logged. */
const sinkHeaders = z
  .record(headerName, z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'must hold no control characters'))
  .default({})
  .superRefine((headers, ctx) => {
    for (const name of Object.keys(headers)) {
      if (RESERVED.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'set by the sink itself; cannot be configured' });
    }
  });

/** What every sink has: its name in metrics and logs, its queue and its batches. */
const common = {
  /** Label of the sink's metrics and log lines (default `<type>-<index>`). */
  name: id.optional(),
  headers: sinkHeaders,
  /** Most records in one request. */
  batchMaxRecords: z.number().int().min(1).max(10_000).default(DEFAULTS.auditSinkBatchMaxRecords),
  /** A batch that is not full is sent this long after its first record, ms. */
  flushMs: z.number().int().min(0).max(60_000).default(DEFAULTS.auditSinkFlushMs),
  /** Records waiting to be sent, at most; past it the oldest unsent are dropped (and counted). */
  maxQueue: z.number().int().min(1).max(1_000_000).default(DEFAULTS.auditSinkMaxQueue),
  /** One request's time limit, ms. */
  timeoutMs: z.number().int().min(100).max(120_000).default(DEFAULTS.auditSinkTimeoutMs),
};

/** JSON Lines over HTTP POST (`application/x-ndjson`), one stored record (with seq, prev, hash) per line. */
export const webhookSinkSchema = z.strictObject({
  type: z.literal('webhook'),
  url: httpUrl,
  ...common,
  /** First wait before a failed batch is sent again, ms (doubled per attempt, with jitter). */
  retryMinMs: z.number().int().min(1).max(60_000).default(DEFAULTS.auditSinkRetryMinMs),
  /** Longest wait between attempts, ms (a receiver's Retry-After may ask for more, up to `DEFAULTS.auditSinkRetryAfterMaxMs`). */
  retryMaxMs: z.number().int().min(1).max(600_000).default(DEFAULTS.auditSinkRetryMaxMs),
});

/** OpenTelemetry over OTLP/HTTP (JSON): a log record per audit record, a span per request. */
export const otlpSinkSchema = z.strictObject({
  type: z.literal('otlp'),
  /** The collector's base URL (`http://collector:4318`): logs go to `<endpoint>/v1/logs`, spans to `<endpoint>/v1/traces`. */
  endpoint: httpUrl,
  ...common,
  signals: z.array(z.enum(['logs', 'traces'])).min(1).default([...DEFAULTS.auditSinkOtlpSignals]),
  /** `service.name` of the resource the records come from. */
  serviceName: z.string().min(1).max(128).default(DEFAULTS.auditSinkOtlpServiceName),
});

/** One sink. */
export const auditSinkSchema = z.discriminatedUnion('type', [webhookSinkSchema, otlpSinkSchema]);

/** The list, with unique names. */
export const auditSinksSchema = z
  .array(auditSinkSchema)
  .max(8)
  .default([])
  .superRefine((sinks, ctx) => {
    const seen = new Set<string>();
    sinks.forEach((sink, i) => {
      const name = sinkName(sink, i);
      if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `sink name "${name}" is used twice` });
      seen.add(name);
    });
  });

export type AuditSinkConfig = z.infer<typeof auditSinkSchema>;
export type WebhookSinkConfig = z.infer<typeof webhookSinkSchema>;
export type OtlpSinkConfig = z.infer<typeof otlpSinkSchema>;

/** The sink's name: as configured, else `<type>-<index>` (`webhook-0`). */
export function sinkName(sink: Pick<AuditSinkConfig, 'type' | 'name'>, index: number): string {
  return sink.name ?? `${sink.type}-${index}`;
}
