import { randomFillSync } from 'node:crypto';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) for one request: the trace it belongs
 * to, the gateway's own span for it, and the caller's span when the caller sent one. The gateway
 * is one hop of the trace: backends get a `traceparent` whose parent-id is the gateway's span,
 * so a trace viewer shows caller -> gateway -> backend, and the audit record keeps the ids.
 */
export interface TraceContext {
  /** 32 lowercase hex digits, never all zeros: the caller's, or a new one. */
  readonly traceId: string;
  /** 16 lowercase hex digits: the gateway's span for this request (new per request). */
  readonly spanId: string;
  /** The caller's span (the parent-id of its `traceparent`), when it sent a valid one. */
  readonly parentSpanId: string | undefined;
  /** Two hex digits: the caller's trace-flags, or `01` (sampled: every request is audited) for a new trace. */
  readonly flags: string;
  /** The caller's `tracestate`, when valid and its `traceparent` was too; passed on unchanged. */
  readonly state: string | undefined;
  /** `00-<traceId>-<spanId>-<flags>`: what backends receive. */
  readonly traceparent: string;
}

/** Version 00 is exactly this; a later version starts with the same four fields. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** One `tracestate` list-member (key=value), per the spec's grammar. */
const TRACESTATE_MEMBER = /^(?:[a-z0-9][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
/** Longest `tracestate` passed on, characters (the spec lets a hop cut at 512). */
const MAX_TRACESTATE = 512;
const MAX_TRACESTATE_MEMBERS = 32;

/** The caller's trace, from its `traceparent` header value. */
export interface ParsedTraceparent {
  readonly traceId: string;
  readonly parentId: string;
  readonly flags: string;
}

/**
 * Parses a `traceparent` header value strictly: version `00` with exactly 55 characters; a later
 * version (not `ff`) whose first 55 characters have the same form and that is either 55 long or
 * goes on with `-` (its own fields are ignored, and what is sent on is version 00); lowercase
 * hex only; neither the trace-id nor the parent-id all zeros. Anything else is `undefined`: the
 * caller's value is ignored and never forwarded. A header sent twice reaches here joined with
 * `, ` and is refused, as the spec asks.
 *
 * This does NOT check that the ids are random or that the caller is entitled to join a trace:
 * a trace id is a correlation hint, never an identity or an authorization input.
 */
export function parseTraceparent(value: string | string[] | undefined): ParsedTraceparent | undefined {
  if (typeof value !== 'string' || value.length < 55) return undefined;
  let text = value;
  if (value.length !== 55) {
    if (value.charCodeAt(55) !== 45 /* - */ || value.startsWith('00')) return undefined;
    text = value.slice(0, 55);
  }
  const m = TRACEPARENT.exec(text);
  if (m === null) return undefined;
  const [, version, traceId, parentId, flags] = m as unknown as [string, string, string, string, string];
  if (version === 'ff' || traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId, parentId, flags };
}

/**
 * A `tracestate` header value if it is valid (at most 512 characters and 32 list-members, each
 * `key=value` per the spec; empty members between commas allowed), else `undefined` (dropped,
 * not repaired). A header sent twice arrives joined with `,`, which the spec allows.
 *
 * This does NOT check keys for duplicates, and does NOT add a member of the gateway's own.
 */
export function validTracestate(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TRACESTATE) return undefined;
  const members = value.split(',');
  let count = 0;
  for (const raw of members) {
    const member = raw.trim();
    if (member === '') continue;
    if (++count > MAX_TRACESTATE_MEMBERS || !TRACESTATE_MEMBER.test(member)) return undefined;
  }
  return count === 0 ? undefined : value;
}

const POOL_BYTES = 4_096;
const pool = Buffer.alloc(POOL_BYTES);
let used = POOL_BYTES;

/** `n` crypto-random bytes as lowercase hex, from a pool refilled 4 KiB at a time. */
function randomHex(n: number): string {
  if (used + n > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const start = used;
  used += n;
  return pool.toString('hex', start, start + n);
}

/** A new random id of `bytes` bytes that is not all zeros (a chance of 2^-64 or less, redrawn). */
function newId(bytes: number, zero: string): string {
  for (;;) {
    const id = randomHex(bytes);
    if (id !== zero) return id;
  }
}

/**
 * The trace of one request from its headers: the caller's trace when its `traceparent` is valid
 * (see {@link parseTraceparent}; then a valid `tracestate` is kept too), else a new trace. The
 * gateway's span id is always new. Cost: one regex over a 55-character value, and 24 random
 * bytes (pooled) hex-encoded.
 *
 * This does NOT trust the caller's trace for anything but correlation: it is recorded and passed
 * on, never read by a policy.
 */
export function traceOf(headers: Readonly<Record<string, string | string[] | undefined>>): TraceContext {
  const caller = parseTraceparent(headers['traceparent']);
  const spanId = newId(8, ZERO_SPAN);
  if (caller === undefined) {
    const traceId = newId(16, ZERO_TRACE);
    return { traceId, spanId, parentSpanId: undefined, flags: '01', state: undefined, traceparent: `00-${traceId}-${spanId}-01` };
  }
  const tracestate = headers['tracestate'];
  const state = tracestate === undefined ? undefined : validTracestate(tracestate);
  return { traceId: caller.traceId, spanId, parentSpanId: caller.parentId, flags: caller.flags, state, traceparent: `00-${caller.traceId}-${spanId}-${caller.flags}` };
}
