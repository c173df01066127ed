/**
 * An OTLP/HTTP receiver on 127.0.0.1 for the otlp sink tests: it decodes the JSON protocol
 * (`/v1/logs`, `/v1/traces`) into flat log records and spans with plain attribute maps.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value: AnyValue };

export interface ReceivedLog {
  readonly resource: Record<string, unknown>;
  readonly scope: string;
  readonly timeUnixNano: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: unknown;
  readonly traceId: string;
  readonly spanId: string;
  readonly attributes: Record<string, unknown>;
}

export interface ReceivedSpan {
  readonly resource: Record<string, unknown>;
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly status: { code?: number; message?: string };
  readonly attributes: Record<string, unknown>;
}

export interface OtlpReceiver {
  readonly endpoint: string;
  readonly logs: ReceivedLog[];
  readonly spans: ReceivedSpan[];
  readonly requests: { path: string; headers: IncomingHttpHeaders }[];
  /** Statuses to answer the next requests with (then 200). */
  failNext: number[];
  waitFor(what: () => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

function valueOf(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return undefined;
}
const attrs = (list: KeyValue[] | undefined): Record<string, unknown> => Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const logs: ReceivedLog[] = [];
  const spans: ReceivedSpan[] = [];
  const requests: { path: string; headers: IncomingHttpHeaders }[] = [];
  const state = { failNext: [] as number[] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers });
      const fail = state.failNext.shift();
      if (fail !== undefined) {
        res.writeHead(fail, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown[]>;
      if (req.url === '/v1/logs') {
        for (const rl of (body['resourceLogs'] ?? []) as { resource?: { attributes?: KeyValue[] }; scopeLogs?: { scope?: { name?: string }; logRecords?: Record<string, unknown>[] }[] }[]) {
          for (const sl of rl.scopeLogs ?? []) {
            for (const lr of sl.logRecords ?? []) {
              logs.push({
                resource: attrs(rl.resource?.attributes),
                scope: sl.scope?.name ?? '',
                timeUnixNano: String(lr['timeUnixNano']),
                severityNumber: lr['severityNumber'] as number,
                severityText: lr['severityText'] as string,
                body: valueOf((lr['body'] ?? {}) as AnyValue),
                traceId: (lr['traceId'] as string | undefined) ?? '',
                spanId: (lr['spanId'] as string | undefined) ?? '',
                attributes: attrs(lr['attributes'] as KeyValue[]),
              });
            }
          }
        }
      } else if (req.url === '/v1/traces') {
        for (const rs of (body['resourceSpans'] ?? []) as { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[]) {
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                resource: attrs(rs.resource?.attributes),
                name: s['name'] as string,
                kind: s['kind'] as number,
                traceId: s['traceId'] as string,
                spanId: s['spanId'] as string,
                parentSpanId: (s['parentSpanId'] as string | undefined) ?? '',
                startTimeUnixNano: String(s['startTimeUnixNano']),
                endTimeUnixNano: String(s['endTimeUnixNano']),
                status: (s['status'] ?? {}) as { code?: number; message?: string },
                attributes: attrs(s['attributes'] as KeyValue[]),
              });
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return Object.assign(state, {
    endpoint: `http://127.0.0.1:${port}`,
    logs,
    spans,
    requests,
    async waitFor(what: () => boolean, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!what()) {
        if (Date.now() > deadline) throw new Error(`not received within ${ms} ms (${logs.length} logs, ${spans.length} spans)`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
