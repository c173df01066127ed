import { randomFillSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DirectoryEntry, Identity } from '../authenticate/identity.js';
import type { RouteConfig } from '../config/schema.js';
import type { Decision } from './decision.js';

/**
 * Everything the stages learn about one request, in the order they learn it. Created by a door,
 * filled by the stages, read by the audit stage at the end.
 */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly door: 'http' | 'mcp';
  readonly requestId: string;
  /** `performance.now()` at receipt, ms. */
  readonly startedAt: number;
  /** ISO-8601 wall time at receipt. */
  readonly time: string;
  readonly method: string;
  /** Path without the query, exactly as received (never normalised). */
  readonly path: string;
  /** `?...` or `''`. */
  readonly search: string;
  /** Set by resolve (route lookup). */
  route?: RouteConfig;
  /** Set by authenticate. */
  identity?: Identity;
  /** Set by resolve (directory enrichment). */
  user?: DirectoryEntry;
  /** Set by screen(in): the bounded request body, undefined when there is none. */
  body?: Buffer;
  /** Set by screen(in): the parsed JSON body, or null. */
  json?: unknown;
  /** Set by screen(in): `sha256:<base64url>` of the body (of the empty string when none). */
  bodyDigest?: string;
  /** The decision that ended the pipeline (a denial, or the allow that let it forward). */
  decision?: Decision;
  upstreamStatus?: number;
  bytesIn: number;
  bytesOut: number;
  /** Non-secret detail for the audit record. */
  detail?: string;
}

const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = POOL_IDS;

/**
 * 128-bit crypto-random request id, base64url (22 chars). Random bytes are drawn 4 KiB at a
 * time (one system call per 256 ids instead of one per request); each id uses its own bytes.
 */
export function newRequestId(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const start = next++ * 16;
  return pool.toString('base64url', start, start + 16);
}

/** Splits `req.url` into path and search without URL parsing (hot path); the URL is origin-form. */
export function splitUrl(url: string): { path: string; search: string } {
  const q = url.indexOf('?');
  return q === -1 ? { path: url, search: '' } : { path: url.slice(0, q), search: url.slice(q) };
}

export function createContext(req: IncomingMessage, res: ServerResponse, door: 'http' | 'mcp', startedAt: number): RequestContext {
  const { path, search } = splitUrl(req.url ?? '/');
  return {
    req,
    res,
    door,
    requestId: newRequestId(),
    startedAt,
    time: new Date().toISOString(),
    method: req.method ?? 'GET',
    path,
    search,
    bytesIn: 0,
    bytesOut: 0,
  };
}
