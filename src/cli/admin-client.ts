import type { CliIo } from './io.js';
import { DEFAULTS } from '../config/defaults.js';

/** Where the admin commands find the admin API when `--admin-url` and `BEHALF_ADMIN_URL` are absent. */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9091';

/** The `--admin-url` flag every admin command takes. */
export interface AdminFlags {
  adminUrl?: string;
}

/** The admin API's base URL: `--admin-url`, else `BEHALF_ADMIN_URL`, else the default, without a trailing `/`. */
export function adminUrl(io: CliIo, flags: AdminFlags): string {
  return (flags.adminUrl ?? io.env.BEHALF_ADMIN_URL ?? DEFAULT_ADMIN_URL).replace(/\/+$/, '');
}

/**
 * One admin API call with `token` as the bearer: resolves the JSON answer, or undefined after
 * printing the server's error code and message (exit 1) or that the API cannot be reached
 * (exit 1). Never follows redirects (the token would go with them).
 */
export async function adminCall(io: CliIo, flags: AdminFlags, token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown> | undefined> {
  const base = adminUrl(io, flags);
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(DEFAULTS.adminClientTimeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    io.err(`cannot reach the admin API at ${base}: ${(err as Error).message}`);
    io.exit(1);
    return undefined;
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    io.err(`${String(json.error ?? res.status)}: ${String(json.message ?? res.statusText)}`);
    io.exit(1);
    return undefined;
  }
  return json;
}
