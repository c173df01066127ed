import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bound on a request body to the dev IdP, in bytes (64 KiB). */
export const MAX_BODY_BYTES = 65_536;

/** An OAuth error response (RFC 6749 §5.2): always 4xx JSON, never a crash. */
export class OAuthError extends Error {
  readonly error: string;
  readonly status: number;
  constructor(error: string, description: string, status = 400) {
    super(description);
    this.error = error;
    this.status = status;
  }
}

/** Browser-based clients (e.g. MCP Inspector) call discovery, token and register cross-origin. */
export function setCors(res: ServerResponse): void {
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
  res.setHeader('access-control-allow-headers', 'authorization, content-type, mcp-protocol-version');
}

/** Send a JSON body; `no-store` because token responses must never be cached (RFC 6749 §5.1). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Send `{ error, error_description }` with the error's status. */
export function sendOAuthError(res: ServerResponse, err: OAuthError): void {
  sendJson(res, err.status, { error: err.error, error_description: err.message });
}

/** Send an HTML page that cannot run scripts or be framed. */
export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-frame-options': 'DENY',
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}

/** 302 to `location` (already validated by the caller). */
export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store' });
  res.end();
}

/** Escape text for HTML element content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Read the whole body, up to MAX_BODY_BYTES. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY_BYTES) throw new OAuthError('invalid_request', `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Parse an `application/x-www-form-urlencoded` body into single values. A parameter sent twice
 * is an error (RFC 6749 §3.1: "MUST NOT be included more than once").
 */
export async function readForm(req: IncomingMessage): Promise<Map<string, string>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'body must be application/x-www-form-urlencoded');
  }
  return singleValues(new URLSearchParams(await readBody(req)));
}

/** Query or form parameters as single values; a repeated parameter is an `invalid_request`. */
export function singleValues(params: URLSearchParams): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of params) {
    if (out.has(k)) throw new OAuthError('invalid_request', `parameter "${k.slice(0, 40)}" repeated`);
    out.set(k, v);
  }
  return out;
}

/** Read a JSON object body. */
export async function readJsonObject(req: IncomingMessage, error: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readBody(req));
  } catch (err) {
    if (err instanceof OAuthError) throw err;
    throw new OAuthError(error, 'body is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new OAuthError(error, 'body is not a JSON object');
  return parsed as Record<string, unknown>;
}
