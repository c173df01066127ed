import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

/**
 * What one failed upstream request says about the upstream's shared session, which every user's
 * calls go through. A request can break without the session being broken (an upstream tool that
 * cuts its own answer's connection), so each failure is sorted before anyone touches the
 * session: only `session-lost` re-opens it at once; `no-answer` has it checked; `broken-answer`
 * fails that request only.
 */

/**
 * - `session-lost`: HTTP 404, the upstream forgot the session (it restarted); it never ran the request.
 * - `no-answer`: the connection failed before the answer's head (refused, reset, timed out
 *   connecting): the upstream may be unreachable, or one kept-alive socket broke.
 * - `broken-answer`: the upstream answered the head for this session, then the answer's stream
 *   broke or ended before the answer: this request is broken; the session was fine a moment ago.
 * - `closed`: the SDK session was closed under the request (a stdio process ended, the gateway
 *   replaced or closed the session).
 * - `timeout`, `rejected` (a JSON-RPC error answer), `http` (another HTTP status), `invalid` (an
 *   answer that is not a valid result): the upstream answered, the session works.
 */
export type FailureKind = 'session-lost' | 'no-answer' | 'broken-answer' | 'closed' | 'timeout' | 'rejected' | 'http' | 'invalid';

/** The key, in a JSON-RPC error's `data`, that marks an answer stream that broke (see {@link brokenAnswerEvent}). */
export const BROKEN_ANSWER_KEY = 'io.behalf/broken-answer';

/** A `tools/call` whose answer's stream broke after the upstream sent its head (direct calls). */
export class BrokenAnswerError extends Error {
  override readonly name = 'BrokenAnswerError';
  constructor(cause: unknown) {
    super('the answer stream broke before the answer', { cause });
  }
}

/** A failure's short, non-secret description: never an SDK message (they may quote bodies). */
export function failureOf(err: unknown): string {
  // The marker's code is the gateway's own (a network error code), but an upstream could send the
  // marker itself: anything that is not code-shaped is not quoted.
  if (err instanceof McpError && isBrokenMarker(err.data)) {
    const code = String((err.data as Record<string, unknown>)[BROKEN_ANSWER_KEY]);
    return NETWORK_CODE.test(code) ? code : 'stream broke';
  }
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (typeof cause === 'string') return cause;
  if (err instanceof BrokenAnswerError) return 'stream ended';
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number' || typeof code === 'string') return `${err instanceof Error ? err.name : 'error'} ${code}`;
  return err instanceof Error ? err.name : 'error';
}

/**
 * Sorts a request's failure (what the SDK's requests, `callToolDirect` and `ping` reject with).
 * `sessionOpen` is whether the SDK client the request went over still has its transport: the
 * SDK fails what is in flight with `-32000` when its session closes, and an upstream may answer
 * `-32000` itself (a common "server error" code), which is an answer, not a closed session.
 */
export function failureKind(err: unknown, sessionOpen = true): FailureKind {
  if (err instanceof BrokenAnswerError) return 'broken-answer';
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout) return 'timeout';
    if (err.code === ErrorCode.ConnectionClosed && isBrokenMarker(err.data)) return 'broken-answer';
    return err.code === ErrorCode.ConnectionClosed && !sessionOpen ? 'closed' : 'rejected';
  }
  if (err instanceof StreamableHTTPError) return err.code === 404 ? 'session-lost' : 'http';
  if (err instanceof Error && (err.name === 'ZodError' || err.name === 'UpstreamProtocolError')) return 'invalid';
  return 'no-answer';
}

/** What a network error's code, or `failureOf`'s `<name> <code>`, looks like. */
const NETWORK_CODE = /^[A-Za-z0-9_ -]{1,64}$/;

function isBrokenMarker(data: unknown): boolean {
  return typeof data === 'object' && data !== null && typeof (data as Record<string, unknown>)[BROKEN_ANSWER_KEY] === 'string';
}

/**
 * The SSE event that ends an answer stream which broke before the answer to request `id`: a
 * JSON-RPC error for that request, so the SDK client fails it now instead of waiting for its
 * timeout (it does not resume a POST stream without event ids). A blank line first ends any
 * event cut in half. `code` is the network error's code (for the audit detail).
 *
 * This does NOT say the upstream answered with an error: {@link failureKind} reads it as
 * `broken-answer`. An upstream that sends the same marker itself only fails its own request.
 */
export function brokenAnswerEvent(id: string | number, code: string): string {
  const message = { jsonrpc: '2.0', id, error: { code: ErrorCode.ConnectionClosed, message: 'upstream answer stream broke', data: { [BROKEN_ANSWER_KEY]: code } } };
  return `\n\nevent: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/** Attempts of one listing request (tools/list, resources/list, ... pages) before its failure stands. */
const LISTING_ATTEMPTS = 3;

/**
 * Runs one idempotent listing request, sending it again (up to 3 attempts in all) when it broke
 * in transit (`no-answer`, `broken-answer`), so one broken stream does not fail a (re)connection.
 *
 * This does NOT retry any other failure: a timeout already waited its time, an error answer
 * would come again, and a lost session needs a new one.
 */
export async function retryListing<T>(request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      const kind = failureKind(err);
      if (attempt >= LISTING_ATTEMPTS || (kind !== 'no-answer' && kind !== 'broken-answer')) throw err;
    }
  }
}
