import type { HrTime, SpanContext } from '@opentelemetry/api';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { OtlpSinkConfig } from '../config/schema-sinks.js';
import { BehalfError } from '../errors.js';
import type { AuditRecord } from './record.js';
import type { SendOutcome, SinkItem } from './sink-pump.js';

/**
 * The `otlp` audit sink's sender: each audit record as an OpenTelemetry log record, and each
 * request as a span, exported over OTLP/HTTP (JSON) by the official OpenTelemetry JS exporters.
 * This module, and through it the OpenTelemetry packages, is imported only when an `otlp` sink is
 * configured (sinks.ts), so a gateway without one never loads them.
 *
 * The records are handed to the exporters as finished `ReadableLogRecord`s and `ReadableSpan`s
 * built from the record (ids, times, attributes): no tracer or logger provider runs, nothing is
 * sampled away, and the sink's own queue (sink-pump.ts) does the batching and counts drops.
 */

/** Sends batches of audit records to an OpenTelemetry collector. */
export interface OtlpSender {
  send(items: readonly SinkItem[], signal: AbortSignal): Promise<SendOutcome>;
  close(): Promise<void>;
}

/** The instrumentation scope every record and span names. */
const SCOPE = { name: 'behalf.audit', version: '1' };
/** OpenTelemetry's numbers (api: SpanKind.SERVER, SpanStatusCode, TraceFlags.SAMPLED; api-logs: SeverityNumber). */
const SPAN_KIND_SERVER = 1;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;
const SAMPLED = 1;
const SEVERITY_INFO = 9;
const SEVERITY_WARN = 13;

type Attributes = Record<string, string | number | boolean>;

/** What an exporter of either signal offers (`OTLPExporterBase`). */
interface Exporter<T> {
  export(items: T[], done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

/**
 * The sender of `cfg`: loads the exporters (and fails with `config-invalid` when the packages are
 * missing), one per configured signal, each posting to `<endpoint>/v1/<signal>` with the
 * configured headers and `timeoutMs`.
 *
 * Attributes hold who, through which client, what (door, route or tool, method, path with query
 * values redacted as in the record), the decision, reason and rule, the status, latency, request
 * id, and the record's `seq` and `hash`. This does NOT send a token, a body or tool arguments: a
 * record holds none. It does NOT read the `detail` field (free text for operators) into any
 * attribute. The exporters also read the standard `OTEL_EXPORTER_OTLP_*` environment variables
 * (that is the OpenTelemetry packages' behaviour, not the gateway's); the config's `endpoint` and
 * `headers` are set explicitly.
 */
export async function createOtlpSender(cfg: OtlpSinkConfig): Promise<OtlpSender> {
  let modules;
  try {
    modules = await Promise.all([
      import('@opentelemetry/exporter-logs-otlp-http'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/semantic-conventions'),
    ]);
  } catch (err) {
    throw new BehalfError('config-invalid', `audit.sinks: an otlp sink needs the OpenTelemetry packages (${(err as Error).message})`, { cause: err });
  }
  const [{ OTLPLogExporter }, { OTLPTraceExporter }, { resourceFromAttributes }, { ATTR_SERVICE_NAME }] = modules;
  const base = cfg.endpoint.replace(/\/+$/, '');
  const common = { headers: { ...cfg.headers }, timeoutMillis: cfg.timeoutMs, concurrencyLimit: 1 };
  const logs = cfg.signals.includes('logs') ? (new OTLPLogExporter({ ...common, url: `${base}/v1/logs` }) as unknown as Exporter<ReadableLogRecord>) : undefined;
  const traces = cfg.signals.includes('traces') ? (new OTLPTraceExporter({ ...common, url: `${base}/v1/traces` }) as unknown as Exporter<ReadableSpan>) : undefined;
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: cfg.serviceName });

  return {
    async send(items, signal) {
      const exports: Promise<SendOutcome>[] = [];
      if (logs !== undefined) exports.push(exportAll(logs, items.map((item) => logRecordOf(item, resource)), signal));
      if (traces !== undefined) {
        const spans: ReadableSpan[] = [];
        for (const item of items) {
          const span = spanOf(item, resource);
          if (span !== undefined) spans.push(span);
        }
        if (spans.length > 0) exports.push(exportAll(traces, spans, signal));
      }
      const outcomes = await Promise.all(exports);
      return outcomes.find((o) => !o.ok) ?? { ok: true };
    },
    async close() {
      await Promise.all([logs?.shutdown(), traces?.shutdown()]);
    },
  };
}

type Resource = ReadableLogRecord['resource'];

/** One export, as a promise that also settles (as a retryable failure) when `signal` aborts. */
function exportAll<T>(exporter: Exporter<T>, items: T[], signal: AbortSignal): Promise<SendOutcome> {
  return new Promise<SendOutcome>((resolve) => {
    if (signal.aborted) return resolve({ ok: false, retry: true, reason: 'aborted' });
    const onAbort = (): void => resolve({ ok: false, retry: true, reason: 'aborted' });
    signal.addEventListener('abort', onAbort, { once: true });
    exporter.export(items, (result) => {
      signal.removeEventListener('abort', onAbort);
      resolve(result.code === 0 ? { ok: true } : { ok: false, retry: true, reason: describeFailure(result.error) });
    });
  });
}

/** A short reason: the HTTP status or the error's code, never a message that might quote a URL. */
function describeFailure(err: Error | undefined): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  if (typeof e?.code === 'number') return `HTTP ${e.code}`;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? `export failed (${code})` : `export failed (${err?.name ?? 'error'})`;
}

/** Epoch ms to OpenTelemetry's [seconds, nanoseconds]. */
function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1_000);
  return [seconds, Math.round((ms - seconds * 1_000) * 1e6)];
}

/** The record's attributes (absent fields left out). */
function attributesOf(rec: AuditRecord, seq: number, hash: string): Attributes {
  const a: Attributes = {
    'behalf.door': rec.door,
    'behalf.decision': rec.decision,
    'behalf.reason': rec.reason,
    'behalf.request_id': rec.requestId,
    'http.request.method': rec.method,
    'url.path': rec.path,
    'http.response.status_code': rec.status,
    'behalf.latency_ms': rec.latencyMs,
    'behalf.audit.seq': seq,
    'behalf.audit.hash': hash,
  };
  const optional: [string, string | number | undefined][] = [
    ['behalf.user', rec.user],
    ['behalf.tenant', rec.tenant],
    ['behalf.client', rec.client],
    ['behalf.route', rec.route],
    ['behalf.tool', rec.tool],
    ['behalf.rpc_method', rec.rpcMethod],
    ['behalf.upstream', rec.upstream],
    ['behalf.rule_id', rec.ruleId],
    ['behalf.phase', rec.phase],
    ['behalf.upstream_status', rec.upstreamStatus],
  ];
  for (const [key, value] of optional) if (value !== undefined) a[key] = value;
  return a;
}

function spanContextOf(rec: AuditRecord): SpanContext | undefined {
  return rec.traceId === undefined || rec.spanId === undefined ? undefined : { traceId: rec.traceId, spanId: rec.spanId, traceFlags: SAMPLED };
}

/** One log record per audit record: INFO when allowed, WARN when denied. */
function logRecordOf({ record, sealed }: SinkItem, resource: Resource): ReadableLogRecord {
  const at = hrTime(Date.parse(record.time));
  const spanContext = spanContextOf(record);
  return {
    hrTime: at,
    hrTimeObserved: at,
    ...(spanContext !== undefined ? { spanContext } : {}),
    severityNumber: record.decision === 'allow' ? SEVERITY_INFO : SEVERITY_WARN,
    severityText: record.decision === 'allow' ? 'INFO' : 'WARN',
    body: `${record.decision} ${record.reason}`,
    eventName: 'behalf.audit.record',
    resource,
    instrumentationScope: SCOPE,
    attributes: attributesOf(record, sealed.seq, sealed.hash),
    droppedAttributesCount: 0,
  } as ReadableLogRecord;
}

/**
 * One server span per request, from its final record (an `intent` record gives none: its
 * outcome carries the whole time); none for a record without trace ids (a refused connection's
 * summary). Status ERROR for a denial or a 5xx answer.
 */
function spanOf({ record, sealed }: SinkItem, resource: Resource): ReadableSpan | undefined {
  const context = spanContextOf(record);
  if (context === undefined || record.phase === 'intent') return undefined;
  const startMs = Date.parse(record.time);
  const latency = Number.isFinite(record.latencyMs) && record.latencyMs > 0 ? record.latencyMs : 0;
  const error = record.decision === 'deny' || record.status >= 500;
  const name = `${record.door} ${record.tool ?? record.route ?? record.rpcMethod ?? record.method}`;
  return {
    name,
    kind: SPAN_KIND_SERVER,
    spanContext: () => context,
    ...(record.parentSpanId !== undefined ? { parentSpanContext: { traceId: context.traceId, spanId: record.parentSpanId, traceFlags: SAMPLED, isRemote: true } } : {}),
    startTime: hrTime(startMs),
    endTime: hrTime(startMs + latency),
    duration: hrTime(latency),
    status: error ? { code: STATUS_ERROR, message: record.reason } : { code: STATUS_UNSET },
    attributes: attributesOf(record, sealed.seq, sealed.hash),
    links: [],
    events: [],
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  } as ReadableSpan;
}
