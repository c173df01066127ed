/**
 * A webhook receiver on 127.0.0.1 for the audit sink tests: it keeps every request it got, and
 * answers as the test says (`200` by default; a status with headers; or `hang`: never answer).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';

export interface ReceivedBatch {
  readonly headers: IncomingHttpHeaders;
  readonly lines: string[];
  /** `Date.now()` when it arrived. */
  readonly at: number;
}

export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

export interface SinkReceiver {
  readonly url: string;
  /** Every request, answered or not, in arrival order. */
  readonly batches: ReceivedBatch[];
  /** The answer to the next requests (`answers` first, one each, then `otherwise`). */
  answers: Answer[];
  otherwise: Answer;
  /** Records of the batches answered 2xx, in order. */
  accepted(): Record<string, unknown>[];
  /** Resolves once `n` records were accepted, or fails after `ms`. */
  waitForAccepted(n: number, ms?: number): Promise<Record<string, unknown>[]>;
  /** Ends the connections left hanging. */
  release(): void;
  close(): Promise<void>;
}

export async function startSinkReceiver(port = 0): Promise<SinkReceiver> {
  const batches: ReceivedBatch[] = [];
  const acceptedBatches: string[][] = [];
  const hanging: ServerResponse[] = [];
  const receiver = {
    answers: [] as Answer[],
    otherwise: { status: 200 } as Answer,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const lines = text.split('\n').filter((l) => l !== '');
      batches.push({ headers: req.headers, lines, at: Date.now() });
      const answer = receiver.answers.shift() ?? receiver.otherwise;
      if (answer === 'hang') {
        hanging.push(res);
        return;
      }
      if (answer.status >= 200 && answer.status < 300) acceptedBatches.push(lines);
      res.writeHead(answer.status, answer.headers ?? {});
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : 0;
  const accepted = () => acceptedBatches.flat().map((l) => JSON.parse(l) as Record<string, unknown>);
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${bound}/ingest?source=behalf`,
    batches,
    accepted,
    async waitForAccepted(n: number, ms = 5_000) {
      const deadline = Date.now() + ms;
      while (accepted().length < n) {
        if (Date.now() > deadline) throw new Error(`only ${accepted().length} of ${n} records accepted within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return accepted();
    },
    release() {
      for (const res of hanging.splice(0)) res.destroy();
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const res of hanging.splice(0)) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  });
}
