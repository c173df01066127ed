import type { ServerResponse } from 'node:http';

/** An SSE response in progress. The final message ends it. */
export class SseStream {
  readonly #res: ServerResponse;
  #bytes = 0;

  constructor(res: ServerResponse, requestId: string, extraHeaders: Record<string, string> = {}) {
    this.#res = res;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      // Tells nginx-like proxies not to buffer: progress must reach the client as it happens.
      'x-accel-buffering': 'no',
      'x-request-id': requestId,
      ...extraHeaders,
    });
    res.flushHeaders();
  }

  /** Bytes of events written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True while events can still be written (the client has not gone away). */
  get open(): boolean {
    return !this.#res.writableEnded && !this.#res.destroyed;
  }

  /** Writes one JSON-RPC message as a `message` event. */
  send(json: string): void {
    if (!this.open) return;
    const event = `event: message\ndata: ${json}\n\n`;
    this.#bytes += Buffer.byteLength(event);
    this.#res.write(event);
  }

  /** Writes an SSE comment: keeps a long-lived stream from being closed as idle by proxies. */
  keepAlive(): void {
    if (this.open) this.#res.write(': keep-alive\n\n');
  }

  /** Ends the stream (after the final message, or with none when the call was cancelled). */
  end(): void {
    if (!this.#res.writableEnded) this.#res.end();
  }
}
