import type { ServerResponse } from 'node:http';
import type { Deny } from '../../pipeline/decision.js';

/**
 * Writes a denial as a small JSON body: `{ error, message, requestId }`, plus `approval`
 * (`{ id, expiresAt, url? }`) for a request that waits for or was refused an approval. The client gets the
 * stable reason code and a generic message; the detail stays in the audit record.
 * Returns the number of body bytes written.
 */
export function sendDenial(res: ServerResponse, decision: Deny, requestId: string, extraHeaders?: Record<string, string>): number {
  if (res.headersSent) {
    // Too late for a status: the only honest signal left is to cut the response short.
    res.destroy();
    return 0;
  }
  const body = JSON.stringify(decision.approval === undefined ? { error: decision.reason, message: decision.message, requestId } : { error: decision.reason, message: decision.message, approval: decision.approval, requestId });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
    ...decision.headers,
    ...extraHeaders,
  };
  if (decision.status === 503 || decision.status === 429) headers['retry-after'] ??= '1';
  res.writeHead(decision.status, headers);
  res.end(body);
  return Buffer.byteLength(body);
}

/** Writes a JSON document with `status` (for well-known and admin endpoints). */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): number {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
  return Buffer.byteLength(body);
}
