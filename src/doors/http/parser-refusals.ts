import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Auditor } from '../../audit/auditor.js';
import type { AuditRecord } from '../../audit/record.js';
import { errorSummary } from '../../lib/error-summary.js';
import { printable } from '../../lib/printable.js';
import type { Metrics } from '../../observe/metrics.js';
import type { Reason } from '../../pipeline/reasons.js';

/** A request refused before any stage: by Node's HTTP parser, or a method the gateway never serves. */
export interface ParserRefusal {
  readonly status: 400 | 405 | 408 | 431;
  readonly reason: Extract<Reason, 'malformed-request' | 'headers-too-large' | 'request-timeout' | 'method-not-supported'>;
  /** The parser's error code (`HPE_INVALID_HEADER_TOKEN`, ...) or `CONNECT`: never the bytes received. */
  readonly code: string;
}

/** The refusal for a parser error. */
export function refusalOf(err: NodeJS.ErrnoException): ParserRefusal {
  const code = printable(err.code ?? err.name, 64);
  if (err.code === 'HPE_HEADER_OVERFLOW') return { status: 431, reason: 'headers-too-large', code };
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'request-timeout', code };
  return { status: 400, reason: 'malformed-request', code };
}

const STATUS_TEXT = { 400: 'Bad Request', 405: 'Method Not Allowed', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' } as const;
const MESSAGE = { 400: 'malformed request', 405: 'method not supported', 408: 'request timeout', 431: 'request headers too large' } as const;

/**
 * Answers a refused request on its raw socket (the parser has no response object for it) with
 * the JSON denial every door uses, the request id, and `connection: close`. Returns the body bytes.
 */
export function answerRefusal(socket: Socket, refusal: ParserRefusal, requestId: string): number {
  const body = JSON.stringify({ error: refusal.reason, message: MESSAGE[refusal.status], requestId });
  const allow = refusal.status === 405 ? 'allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n' : '';
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\ncache-control: no-store\r\n${allow}connection: close\r\n\r\n${body}`,
  );
  return Buffer.byteLength(body);
}

/**
 * What the gateway keeps of a refused request: one audit record (door `http`, method `-`, no
 * path, no user: nothing of the request was read) whose detail names the parser's error code and
 * the peer address, and a count in `behalf_client_errors_total{reason}`. The record is written
 * without waiting for an fsync (nothing was done on anyone's behalf); a failure to write it is
 * logged and raises the audit alarm as any failed write does.
 *
 * This does NOT record the request's bytes (they may hold a token) and does NOT rate-limit
 * refusals: a flood of malformed requests is a flood of records, bounded by the connection rate.
 */
export function createRefusalRecorder(deps: { auditor: Auditor; metrics: Metrics; logger: Logger; now: () => number }) {
  return (refusal: ParserRefusal, peer: string | undefined, requestId: string, bytesOut: number): void => {
    // requestId: made by the server for the answer, so the client's copy and the record match.
    deps.metrics.clientErrors.inc({ reason: refusal.reason });
    const record: AuditRecord = {
      time: new Date(deps.now()).toISOString(),
      requestId,
      door: 'http',
      method: '-',
      path: '',
      decision: 'deny',
      reason: refusal.reason,
      status: refusal.status,
      latencyMs: 0,
      bytesIn: 0,
      bytesOut,
      detail: `${refusal.code} from ${printable(peer ?? 'unknown', 64)}`,
    };
    deps.auditor.record(record, { durability: 'written' }).catch((err: unknown) => deps.logger.error({ err: errorSummary(err), requestId }, 'refusal not audited'));
  };
}
