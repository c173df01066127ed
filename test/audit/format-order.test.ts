import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatRecordLine } from '../../src/audit/format-record.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { inStartOrder } from '../../src/audit/start-order.js';
import { openStore, rec, runAuditCli, tempDir } from './helpers.js';

const mcp = (over: Parameters<typeof rec>[1]) => rec(1, { door: 'mcp', route: undefined, method: 'POST', path: '/mcp', ...over });

describe('the request column of a line', () => {
  it('names the JSON-RPC method, the tool and the kept arguments of an MCP call, not POST /mcp', () => {
    const line = formatRecordLine(mcp({ rpcMethod: 'tools/call', tool: 'hr.get_reviews', args: { year: 2026, employee: 'bob', note: 'two words' } }));
    assert.match(line, /\stools\/call hr\.get_reviews employee=bob note="two words" year=2026\s/);
    assert.ok(!line.includes('POST /mcp'));
    assert.match(formatRecordLine(mcp({ rpcMethod: 'initialize', reason: 'protocol-message' })), /\sinitialize\s+allow\s+protocol-message/);
    assert.match(formatRecordLine(mcp({ rpcMethod: 'resources/read', resource: 'hr://reviews/bob' })), /\sresources\/read hr:\/\/reviews\/bob\s/);
    assert.match(formatRecordLine(mcp({ rpcMethod: 'prompts/get', prompt: 'hr.review_summary', args: { employee: 'bob' } })), /\sprompts\/get hr\.review_summary employee=bob\s/);
  });

  it('a route line shows the path and the kept query values; control characters in values are escaped', () => {
    const line = formatRecordLine(rec(1, { path: '/api/hr/reviews?employee=&year=', query: { employee: 'bob', year: '2026' } }));
    assert.match(line, /\sGET \/api\/hr\/reviews employee=bob year=2026\s/);
    const evil = formatRecordLine(mcp({ rpcMethod: 'tools/call', tool: 't', args: { e: 'a\u001b[2Jb' } }));
    assert.ok(!evil.includes('\u001b'), evil);
  });

  it('shows a client by its configured name, else its id', () => {
    const names = new Map([['chatgpt', 'ChatGPT']]);
    assert.match(formatRecordLine(rec(1), names), /alice\s+ChatGPT\s/);
    assert.match(formatRecordLine(rec(1, { client: 'other' }), names), /alice\s+other\s/);
  });
});

/** Records appended in end order: #2 is a long request that started first. */
const ended = [
  rec(1, { requestId: 'short-1', time: '2025-05-01T10:00:05.000Z' }),
  rec(2, { requestId: 'long', time: '2025-05-01T10:00:01.000Z', endTime: '2025-05-01T10:00:09.000Z' }),
  rec(3, { requestId: 'short-2', time: '2025-05-01T10:00:07.000Z' }),
  rec(4, { requestId: 'short-3', time: '2025-05-01T10:00:08.000Z' }),
];

describe('output in start-time order', () => {
  it('a bounded reorder: within the window every record comes out by start (ties by seq)', async () => {
    const stored = ended.map((r, i) => ({ ...r, seq: i + 1, prev: '', hash: '' }) as StoredAuditRecord);
    const order = async (window: number, records: StoredAuditRecord[]) => {
      const all = async function* () {
        yield* records;
      };
      const out: string[] = [];
      for await (const r of inStartOrder(all(), window)) out.push(r.requestId);
      return out;
    };
    assert.deepEqual(await order(10, stored), ['long', 'short-1', 'short-2', 'short-3']);
    assert.deepEqual(await order(1, stored), ['long', 'short-1', 'short-2', 'short-3']);
    // Two records ahead of it with a window of one: it is printed late, never lost.
    const later = [stored[0]!, stored[2]!, stored[1]!, stored[3]!];
    assert.deepEqual(await order(10, later), ['long', 'short-1', 'short-2', 'short-3']);
    assert.deepEqual(await order(1, later), ['short-1', 'long', 'short-2', 'short-3']);
  });

  it('audit tail and query print lines by start time, JSON too', async () => {
    const dir = join(await tempDir(), 'audit');
    const store = await openStore(dir);
    await store.append(ended);
    await store.close();
    const tail = await runAuditCli(['audit', 'tail', '--store', dir]);
    assert.equal(tail.code, 0, tail.err);
    assert.deepEqual(tail.out.map((l) => l.slice(0, 24)), ['2025-05-01T10:00:01.000Z', '2025-05-01T10:00:05.000Z', '2025-05-01T10:00:07.000Z', '2025-05-01T10:00:08.000Z']);
    const json = await runAuditCli(['audit', 'query', '--store', dir, '--json']);
    assert.deepEqual(json.out.map((l) => (JSON.parse(l) as StoredAuditRecord).requestId), ['long', 'short-1', 'short-2', 'short-3']);
    // The newest N are the newest written; they are printed by start.
    const last = await runAuditCli(['audit', 'query', '--store', dir, '--json', '--limit', '3']);
    assert.deepEqual(last.out.map((l) => (JSON.parse(l) as StoredAuditRecord).requestId), ['long', 'short-2', 'short-3']);
  });
});
