import type { IncomingMessage } from 'node:http';

/**
 * The mark the HTTP server puts on a request whose client broke off while the pipeline is
 * already handling it (the head arrived; the body is still arriving): it did not send the whole
 * request within `server.requestTimeoutMs` (`timeout`), or the parser refused its body's framing,
 * say an invalid chunk size (`malformed`, with the parser's error code). The server does not
 * answer such a request on the raw socket: the pipeline does (408 `request-timeout` or 400
 * `malformed-request`) with the request's own id, so the client's answer and the audit record
 * name the same request and the same reason. `readBody` is the one reader that acts on the mark.
 *
 * This does NOT detect anything itself: Node's HTTP server measures the timeout and parses the
 * framing (`server.ts`); this only carries the news to whoever reads the body.
 */
export type CutShort = { readonly kind: 'timeout' } | { readonly kind: 'malformed'; readonly code: string };

const CUT_SHORT = Symbol('behalf.requestCutShort');

type Marked = IncomingMessage & { [CUT_SHORT]?: CutShort };

/** Marks `req` as cut short and tells a body reader waiting on it. */
export function markCutShort(req: IncomingMessage, why: CutShort): void {
  (req as Marked)[CUT_SHORT] = why;
  req.emit(CUT_SHORT, why);
}

/** Why the server marked `req`, once it did. */
export function cutShort(req: IncomingMessage): CutShort | undefined {
  return (req as Marked)[CUT_SHORT];
}

/** Calls `listener` when `req` is marked; returns the function that stops listening. */
export function onCutShort(req: IncomingMessage, listener: (why: CutShort) => void): () => void {
  req.once(CUT_SHORT, listener);
  return () => {
    req.off(CUT_SHORT, listener);
  };
}
