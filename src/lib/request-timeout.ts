import type { IncomingMessage } from 'node:http';

/**
 * The mark the HTTP server puts on a request whose client did not send all of it within
 * `server.requestTimeoutMs`, while the pipeline is already handling it (the head arrived; the body
 * is still trickling in). The server does not answer such a request on the raw socket: the
 * pipeline does, with 408 `request-timeout` and the request's own id, so the client's answer and
 * the audit record name the same request and the same reason. `readBody` is the one reader that
 * acts on the mark.
 *
 * This does NOT time anything itself: Node's HTTP server measures the timeout
 * (`server.ts`); this only carries the news to whoever reads the body.
 */

const TIMED_OUT = Symbol('behalf.requestTimedOut');

type Marked = IncomingMessage & { [TIMED_OUT]?: true };

/** Marks `req` as timed out and tells a body reader waiting on it. */
export function markTimedOut(req: IncomingMessage): void {
  (req as Marked)[TIMED_OUT] = true;
  req.emit(TIMED_OUT);
}

/** True once the server marked `req` as timed out. */
export function timedOut(req: IncomingMessage): boolean {
  return (req as Marked)[TIMED_OUT] === true;
}

/** Calls `listener` when `req` is marked; returns the function that stops listening. */
export function onTimedOut(req: IncomingMessage, listener: () => void): () => void {
  req.once(TIMED_OUT, listener);
  return () => {
    req.off(TIMED_OUT, listener);
  };
}
