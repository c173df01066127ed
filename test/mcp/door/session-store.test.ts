import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemorySessionStore, newSessionId, type McpSession } from '../../../src/doors/mcp/session-store.js';

// The in-memory session store: bounded, idle sessions forgotten, one user cannot push everyone
// else's sessions out. A fake clock, no sleeping.

const session = (id: string, user = 'alice'): McpSession => ({ id, owner: { issuer: 'https://idp.example', user }, protocolVersion: '2025-11-25', createdAt: 0 });

describe('memory session store', () => {
  it('forgets a session idle past the limit, and a use resets the idle timer', async () => {
    let t = 0;
    const store = createMemorySessionStore({ maxSessions: 10, idleMs: 1_000, now: () => t });
    await store.create(session('a'));
    await store.create(session('b'));
    t = 900;
    assert.ok(await store.touch('a'));
    t = 1_500;
    assert.ok(await store.touch('a'), 'used at 900: still alive at 1500');
    assert.equal(await store.touch('b'), undefined, 'idle since 0: gone');
    assert.equal(store.size(), 1);
  });

  it('holds at most maxSessions, dropping the least recently used', async () => {
    let t = 0;
    const store = createMemorySessionStore({ maxSessions: 3, idleMs: 60_000, now: () => t });
    for (const [i, id] of ['a', 'b', 'c'].entries()) await store.create(session(id, `user${i}`));
    t = 10;
    await store.touch('a');
    await store.create(session('d', 'user3'));
    assert.equal(store.size(), 3);
    assert.equal(await store.touch('b'), undefined, 'b was the least recently used');
    assert.ok(await store.touch('a'));
  });

  it('caps the sessions of one owner without touching other owners', async () => {
    const store = createMemorySessionStore({ maxSessions: 100, maxPerOwner: 2, idleMs: 60_000 });
    await store.create(session('bob1', 'bob'));
    for (const id of ['m1', 'm2', 'm3', 'm4']) await store.create(session(id, 'mallory'));
    assert.equal(store.size(), 3);
    assert.ok(await store.touch('bob1'), 'another user is not pushed out');
    assert.equal(await store.touch('m1'), undefined);
    assert.equal(await store.touch('m2'), undefined);
    assert.ok(await store.touch('m4'));
    assert.equal(await store.delete('m4'), true);
    assert.equal(await store.delete('m4'), false);
  });

  it('session ids are 128-bit random base64url strings', () => {
    const ids = new Set(Array.from({ length: 1_000 }, newSessionId));
    assert.equal(ids.size, 1_000);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  });
});
