import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAgentPool } from '../../src/forward/agents.js';
import { close, listen } from './fixtures.js';

// The one agent factory: kept-alive sockets are reused per pair of timeouts, and closing the
// pool leaves no socket open (the gateway's close relies on it).

describe('agent pool', () => {
  let server: Server;
  let url: string;
  const sockets = new Set<Socket>();
  before(async () => {
    server = createServer((_req, res) => res.end('ok'));
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    url = await listen(server);
  });
  after(async () => {
    await close(server);
  });

  const get = async (pool: ReturnType<typeof createAgentPool>, connectMs?: number, keepAliveMs?: number) => {
    const res = await pool.agentFor(connectMs, keepAliveMs).request({ origin: url, path: '/', method: 'GET' });
    assert.equal(await res.body.text(), 'ok');
  };

  it('gives one agent per pair of timeouts and reuses its kept-alive socket', async () => {
    const pool = createAgentPool();
    try {
      assert.equal(pool.agentFor(500, 4_000), pool.agentFor(500, 4_000));
      assert.notEqual(pool.agentFor(500, 4_000), pool.agentFor(500, 1_000));
      assert.notEqual(pool.agentFor(500, 4_000), pool.agentFor(1_000, 4_000));
      assert.notEqual(pool.agentFor(), pool.agentFor(500, 4_000));
      await get(pool, 500, 4_000);
      // undici hands the socket back to its pool just after the body ends.
      await new Promise((r) => setTimeout(r, 20));
      await get(pool, 500, 4_000);
      assert.equal(sockets.size, 1, `the second request went over the first one's socket (${sockets.size})`);
      await get(pool, 1_000, 4_000);
      assert.equal(sockets.size, 2, 'another connect timeout, another agent and socket');
    } finally {
      await pool.close();
    }
  });

  it('close() closes every kept-alive socket, and may be called twice', async () => {
    const pool = createAgentPool();
    await get(pool, 500, 4_000);
    await get(pool);
    assert.equal(sockets.size, 2);
    const closing = [...sockets].map((s) => once(s, 'close'));
    await pool.close();
    // Well before the 4 s keep-alive timeout would close them anyway.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('sockets still open 1 s after close()')), 1_000)));
    await Promise.race([Promise.all(closing), late]).finally(() => clearTimeout(timer));
    assert.equal(sockets.size, 0);
    await pool.close();
  });
});
