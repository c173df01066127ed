/**
 * A raw TCP client for the fault tests: writes bytes when told, keeps everything the server sends,
 * and says when the server closed. Every wait is bounded.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export class RawConnection {
  /** performance.now() when the connection was established. */
  readonly openedAt: number;
  /** performance.now() when the server closed (or reset) the connection; undefined while open. */
  closedAt: number | undefined;
  private received = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    this.openedAt = performance.now();
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedAt = performance.now();
      this.wake();
    });
  }

  /** Connects to `baseUrl`'s host and port, from `localAddress` when given (another 127.x address is another client). */
  static open(baseUrl: string, localAddress?: string): Promise<RawConnection> {
    const url = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port), ...(localAddress === undefined ? {} : { localAddress }) }, () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Everything received so far, latin1. */
  get text(): string {
    return this.received.toString('latin1');
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /**
   * Writes `data` one byte every `everyMs` until the connection closes or `data` runs out;
   * resolves then. The bytes of a slow client.
   */
  async trickle(data: string, everyMs: number): Promise<void> {
    for (const byte of data) {
      if (this.closed || this.socket.destroyed) return;
      this.write(byte);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** Resolves once `test` holds of what was received (true) or the connection closed or `timeoutMs` passed (false). */
  until(test: (text: string) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (test(this.text)) return finish(true);
        if (this.closed) return finish(false);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(test(this.text)), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves once the server closed the connection (true), or after `timeoutMs` (false). */
  untilClosed(timeoutMs: number): Promise<boolean> {
    return this.until(() => false, timeoutMs).then(() => this.closed);
  }

  /** The status of the first final response (a `100 Continue` skipped), 0 when none came. */
  get finalStatus(): number {
    const all = [...this.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    return all.find((s) => s >= 200) ?? 0;
  }

  /** A response header of the final response, lower-cased name. */
  header(name: string): string | undefined {
    const start = this.text.search(/HTTP\/1\.1 [2-5]\d\d/);
    if (start < 0) return undefined;
    const head = this.text.slice(start, this.text.indexOf('\r\n\r\n', start));
    return new RegExp(`^${name}: *(.*)$`, 'im').exec(head)?.[1]?.trim();
  }

  /** The body of the final response (everything after its head). */
  get body(): string {
    const start = this.text.search(/HTTP\/1\.1 [2-5]\d\d/);
    const end = start < 0 ? -1 : this.text.indexOf('\r\n\r\n', start);
    return end < 0 ? '' : this.text.slice(end + 4);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
