import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the client holds its body back until the server says
 * it wants it. Node would send `100 Continue` as soon as the head arrives, before anyone knows
 * whether the body will be refused; the HTTP server instead defers it here (`deferContinue`), and
 * `readBody` sends it (`sendContinue`) only when it is about to read a body it will accept: a
 * request refused first (401, 400, 413 on its declared `Content-Length`, ...) never gets a `100`,
 * and its client never sends the body. Such a response says `Connection: close`, since the body
 * the head announced may still be on its way; once `100` is sent the connection may be kept.
 *
 * This does NOT handle any other expectation: Node answers those with 417 itself.
 */

const PENDING = Symbol('behalf.continuePending');

type Pending = IncomingMessage & { [PENDING]?: ServerResponse };

/** Holds the `100 Continue` of `req` back until its body is wanted. */
export function deferContinue(req: IncomingMessage, res: ServerResponse): void {
  (req as Pending)[PENDING] = res;
  res.setHeader('connection', 'close');
}

/** Sends the deferred `100 Continue` of `req`, if it has one that was not sent yet. */
export function sendContinue(req: IncomingMessage): void {
  const res = (req as Pending)[PENDING];
  if (res === undefined) return;
  (req as Pending)[PENDING] = undefined;
  if (res.headersSent) return;
  res.removeHeader('connection');
  res.writeContinue();
}
