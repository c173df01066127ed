/**
 * The checkpoint webhook against a real HTTP receiver on 127.0.0.1: delivery in order, retries
 * after refusals and after the receiver was down, a bounded queue that drops the oldest, a close
 * that does not hang on a receiver that never answers, and the URL (which may hold a secret)
 * never logged.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { StoredCheckpoint } from '../../src/audit/checkpoint-format.js';
import { createCheckpointWebhook } from '../../src/audit/checkpoint-webhook.js';

interface Receiver {
  url: string;
  bodies: Record<string, unknown>[];
  headers: IncomingMessage['headers'][];
  close(): Promise<void>;
}

async function startReceiver(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<Receiver> {
  const bodies: Record<string, unknown>[] = [];
  const headers: IncomingMessage['headers'][] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const i = n++;
      headers.push(req.headers);
      const before = bodies.length;
      answer(i, req, res);
      // Only a 2xx counts as received, as the sender sees it.
      if (res.statusCode >= 200 && res.statusCode < 300 && bodies.length === before) bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/hooks/checkpoints?token=s3cret-in-url`,
    bodies,
    headers,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const cp = (seq: number): StoredCheckpoint => ({ seq, hash: seq.toString(16).padStart(64, '0'), time: new Date(Date.UTC(2026, 11, 6, 10, 0, seq)).toISOString(), kid: 'kid-1', jws: `header.payload-${seq}.signature` });

async function until(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('checkpoint webhook', () => {
  test('delivers each checkpoint as JSON, in order, retrying after refusals', async () => {
    const receiver = await startReceiver((i, _req, res) => {
      res.statusCode = i < 2 ? 503 : 204;
      res.end();
    });
    const logs: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (s: string) => void logs.push(s) });
    const hook = createCheckpointWebhook(receiver.url, { retryMinMs: 5, retryMaxMs: 20, logger });
    try {
      hook.push(cp(1));
      hook.push(cp(2));
      hook.push(cp(3));
      await until('three deliveries', () => hook.stats.delivered === 3);
      assert.deepEqual(receiver.bodies.map((b) => b['seq']), [1, 2, 3]);
      assert.deepEqual(receiver.bodies[0], { type: 'behalf-checkpoint', ...cp(1) });
      assert.equal(receiver.headers[0]!['content-type'], 'application/json');
      assert.equal(hook.stats.failedAttempts, 2);
      assert.equal(hook.pending, 0);
      assert.ok(logs.some((l) => /refused a checkpoint/.test(l) && /"status":503/.test(l)));
      assert.ok(!logs.some((l) => l.includes('s3cret')), 'the URL is never logged');
    } finally {
      await hook.close();
      await receiver.close();
    }
  });

  test('a receiver that was down gets the queue once it is up; past maxQueue the oldest are dropped', async () => {
    const first = await startReceiver((_i, _req, res) => res.end());
    const { port } = new URL(first.url);
    await first.close(); // nothing listens on the port now
    const hook = createCheckpointWebhook(first.url, { retryMinMs: 5, retryMaxMs: 20, maxQueue: 3 });
    try {
      for (let seq = 1; seq <= 5; seq++) hook.push(cp(seq));
      assert.equal(hook.stats.dropped, 2);
      await until('a failed attempt', () => hook.stats.failedAttempts > 0);
      assert.equal(hook.stats.delivered, 0);
      const receiver = await startReceiver((_i, _req, res) => res.end(), Number(port));
      try {
        await until('the queue delivered', () => hook.pending === 0);
        assert.deepEqual(receiver.bodies.map((b) => b['seq']), [3, 4, 5], 'the newest are kept: each covers every record before it');
      } finally {
        await receiver.close();
      }
    } finally {
      await hook.close();
    }
  });

  test('close gives up after its wait on a receiver that never answers, and nothing is sent after', async () => {
    const receiver = await startReceiver(() => {
      // never answers
    });
    const hook = createCheckpointWebhook(receiver.url, { retryMinMs: 5, timeoutMs: 10_000, closeWaitMs: 100 });
    hook.push(cp(1));
    await until('the request arrived', () => receiver.headers.length === 1);
    const started = Date.now();
    await hook.close();
    assert.ok(Date.now() - started < 2_000, 'close is bounded by closeWaitMs, not the 10 s attempt timeout');
    assert.equal(hook.pending, 1);
    hook.push(cp(2));
    assert.equal(hook.pending, 1, 'a closed sink takes nothing more');
    await receiver.close();
  });
});
