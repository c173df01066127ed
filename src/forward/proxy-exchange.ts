import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { deny } from '../pipeline/decision.js';
import type { ForwardInput, ForwardResult } from './proxy-types.js';
import { HOP_BY_HOP } from './identity/stripped-headers.js';

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const HOP = new Set<string>(HOP_BY_HOP);

/** A short name for an error (its code, else its class), never its message: undici's parser errors carry the upstream's bytes. */
export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.cause?.code ?? e?.code ?? e?.name;
  return typeof code === 'string' ? code : 'error';
}

/**
 * Response headers for the client: the upstream's (undici already grouped repeated ones, e.g.
 * several Set-Cookie, into arrays) less hop-by-hop ones and those named in Connection, with the
 * gateway's request id instead of the upstream's.
 */
function clientHeaders(upstream: IncomingHttpHeaders, requestId: string | string[] | undefined): OutgoingHttpHeaders {
  const connection = upstream.connection === undefined ? undefined : String(upstream.connection).toLowerCase();
  // Nearly every upstream says `keep-alive` or `close`: one name, compared without a Set.
  const one = connection === undefined || connection.includes(',') ? undefined : connection.trim();
  const named = connection === undefined || one !== undefined ? undefined : new Set(connection.split(',').map((s) => s.trim()));
  const out: OutgoingHttpHeaders = Object.create(null) as OutgoingHttpHeaders;
  for (const name of Object.keys(upstream)) {
    const value = upstream[name];
    if (value === undefined || HOP.has(name) || name === one || named?.has(name) || name === 'x-request-id') continue;
    out[name] = value;
  }
  if (typeof requestId === 'string') out['x-request-id'] = requestId;
  return out;
}

/**
 * One forwarded request: the undici dispatch handler that streams the upstream response into the
 * client response, plus the whole-exchange timer and the client-disconnect watch. `done`
 * resolves exactly once; nothing here throws. See `createForwarder` for the behaviour.
 *
 * With `beforeEnd`, the client must not see a complete response before `beforeEnd` agreed, so:
 * a bodiless response's head is held back until then; a fixed-length body's last chunk is held
 * back (its Content-Length would otherwise make the response look complete); a chunked body is
 * streamed whole, its end being the terminating chunk that `res.end()` sends.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly done: Promise<ForwardResult>;
  private resolve!: (r: ForwardResult) => void;
  private controller: Dispatcher.DispatchController | undefined;
  private pendingAbort: Error | undefined;
  /** The response head went to the client. */
  private started = false;
  private status: number | undefined;
  private bytesOut = 0;
  private settled = false;
  private waitingDrain = false;
  private expectedLength = -1;
  private held: Buffer | undefined;
  private deferredHead: OutgoingHttpHeaders | undefined;
  /** A fixed-length response's head, sent with its first body bytes. */
  private bodyHead: OutgoingHttpHeaders | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly input: ForwardInput) {
    this.done = new Promise((r) => (this.resolve = r));
    const { res, signal, route } = input;
    this.timer = setTimeout(() => {
      if (this.started) this.failStarted('upstream-timeout', `no complete response in ${route.timeoutMs} ms`);
      else this.failEarly(true, `no response headers in ${route.timeoutMs} ms`);
      this.abortUpstream('timeout');
    }, route.timeoutMs);
    if (res.destroyed || signal?.aborted === true) {
      this.finish({ ok: false, bytesOut: 0, aborted: 'client' });
      return;
    }
    res.on('close', this.onClientClose);
    signal?.addEventListener('abort', this.onClientClose, { once: true });
  }

  /** The outcome is decided (the client was already gone, or undici refused the request). */
  get finished(): boolean {
    return this.settled;
  }

  /** Ends the exchange before anything was sent upstream (undici refused the request). */
  refused(err: unknown): void {
    this.finish({ ok: false, bytesOut: 0, decision: deny(500, 'internal-error', 'internal error', { detail: `request not sent (${errorCode(err)})` }) });
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.controller = c;
    if (this.pendingAbort !== undefined) c.abort(this.pendingAbort);
  }

  onResponseStart(c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.settled || statusCode < 200) return;
    this.status = statusCode;
    const head = clientHeaders(headers, this.input.headers['x-request-id']);
    const length = headers['content-length'];
    const n = typeof length === 'string' ? Number(length) : Number.NaN;
    const bodiless = this.input.req.method === 'HEAD' || statusCode === 204 || statusCode === 304 || length === '0';
    const fixedLength = !bodiless && Number.isSafeInteger(n) && n > 0;
    if (this.input.beforeEnd !== undefined) {
      if (bodiless) {
        this.deferredHead = head;
        return;
      }
      if (fixedLength) this.expectedLength = n;
    }
    if (fixedLength) {
      // The head goes out with the first body bytes, in the same write. Until then nothing has
      // been sent, so a backend that stalls or fails now still gets a clean 504 / 502.
      this.bodyHead = head;
      return;
    }
    // A streamed body (an event stream) must not hold back the status: send the head now.
    if (this.sendHead(c, head)) this.input.res.flushHeaders();
  }

  /** Writes the response head; false (and the exchange failed) when node refuses it. */
  private sendHead(c: Dispatcher.DispatchController | undefined, head: OutgoingHttpHeaders): boolean {
    try {
      this.input.res.writeHead(this.status ?? 502, head);
    } catch (err) {
      this.failEarly(false, `invalid upstream response head (${errorCode(err)})`);
      c?.abort(err as Error);
      return false;
    }
    this.started = true;
    return true;
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    if (this.bodyHead !== undefined) {
      const head = this.bodyHead;
      this.bodyHead = undefined;
      if (!this.sendHead(c, head)) return;
    }
    this.bytesOut += chunk.length;
    if (this.expectedLength > 0 && this.bytesOut >= this.expectedLength) {
      // The last chunk of a fixed-length body: hold it whole until `beforeEnd` agrees, then send
      // it with the end (for a small response: head, body and end in one write).
      this.held = chunk;
      return;
    }
    if (!this.input.res.write(chunk) && !this.waitingDrain) {
      this.waitingDrain = true;
      c.pause();
      this.input.res.once('drain', this.onDrain);
    }
  }

  onResponseEnd(): void {
    if (this.settled) return;
    const beforeEnd = this.input.beforeEnd;
    if (beforeEnd === undefined) return this.complete();
    clearTimeout(this.timer);
    const done = { upstreamStatus: this.status ?? 0, bytesOut: this.bytesOut };
    Promise.resolve()
      .then(() => beforeEnd(done))
      .catch(() => false)
      .then((proceed) => {
        if (this.settled) return;
        if (proceed) return this.complete();
        this.input.res.destroy();
        this.finish(this.result(false, 'gateway'));
      });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.settled) return;
    const code = errorCode(err);
    if (this.started) this.failStarted(TIMEOUT_CODES.has(code) ? 'upstream-timeout' : 'upstream-error', code);
    else this.failEarly(TIMEOUT_CODES.has(code), code);
  }

  private complete(): void {
    const { res } = this.input;
    if (this.bodyHead !== undefined) {
      // The upstream ended without the body its Content-Length announced: not a response to pass on.
      return this.failEarly(false, 'upstream response ended before its body');
    }
    if (this.deferredHead !== undefined) {
      try {
        res.writeHead(this.status ?? 502, this.deferredHead);
      } catch (err) {
        return this.failEarly(false, `invalid upstream response head (${errorCode(err)})`);
      }
    }
    res.end(this.held);
    this.finish(this.result(true));
  }

  private readonly onClientClose = (): void => {
    if (this.settled || this.input.res.writableFinished) return;
    if (this.started && !this.input.res.destroyed) this.input.res.destroy();
    // Settle first, then abort: undici reports the abort back through onResponseError at once,
    // and that report must not decide the outcome.
    this.finish(this.result(false, 'client'));
    this.abortUpstream('client closed');
  };

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.controller?.resume();
  };

  private abortUpstream(why: string): void {
    const err = new Error(`behalf: ${why}`);
    if (this.controller === undefined) this.pendingAbort ??= err;
    else if (!this.controller.aborted) this.controller.abort(err);
  }

  /** The result of an exchange whose response started (or was about to): status and bytes so far. */
  private result(ok: boolean, aborted?: 'client' | 'upstream' | 'gateway'): { -readonly [K in keyof ForwardResult]: ForwardResult[K] } {
    const r: { -readonly [K in keyof ForwardResult]: ForwardResult[K] } = { ok, bytesOut: this.bytesOut };
    if (this.status !== undefined) r.upstreamStatus = this.status;
    if (aborted !== undefined) r.aborted = aborted;
    return r;
  }

  private failStarted(reason: 'upstream-timeout' | 'upstream-error', detail: string): void {
    this.input.res.destroy();
    const r = this.result(false, 'upstream');
    r.reason = reason;
    r.detail = detail;
    this.finish(r);
  }

  private failEarly(timedOut: boolean, detail: string): void {
    this.finish({
      ok: false,
      bytesOut: 0,
      decision: timedOut ? deny(504, 'upstream-timeout', 'gateway timeout', { detail }) : deny(502, 'upstream-unavailable', 'bad gateway', { detail }),
    });
  }

  private finish(r: ForwardResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.input.res.off('close', this.onClientClose);
    this.input.res.off('drain', this.onDrain);
    this.input.signal?.removeEventListener('abort', this.onClientClose);
    this.resolve(r);
  }
}
