import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawExchange } from '../e2e/bounded-client.js';
import { useIntegrityEnv } from './integrity-env.js';

/**
 * Class 8 of "Request integrity": requests Node's parser refuses used to leave no trace. Each
 * probe below is answered with its status, a request id and a reason, reaches no backend, and is
 * written as an audit record (door http, the parser's error code and the peer, never the bytes)
 * and counted in `behalf_client_errors_total`. A 20 KB token now gets behalf's own
 * `token-too-large` (the parser's bound is above the token bound).
 */

const env = useIntegrityEnv('alice', (upstream) => ({
  routes: [{ id: 'api', path: '/api', upstream }],
  policies: [{ id: 'anyone', effect: 'allow', match: { routes: ['api'] } }],
}));

const auth = () => `Authorization: Bearer ${env.token}\r\n`;

/** Each probe: the raw bytes, the status, the reason, and the parser error code the record names. */
const PROBES: readonly { name: string; raw: () => string; status: number; reason: string; code: RegExp }[] = [
  {
    name: 'Content-Length and Transfer-Encoding together (request smuggling)',
    raw: () => `POST /api/x HTTP/1.1\r\nHost: x\r\n${auth()}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/admin HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    reason: 'malformed-request',
    code: /^HPE_/,
  },
  {
    name: 'two Transfer-Encoding headers',
    raw: () => `POST /api/x HTTP/1.1\r\nHost: x\r\n${auth()}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`,
    status: 400,
    reason: 'malformed-request',
    code: /^HPE_/,
  },
  { name: 'a bad Content-Length', raw: () => `POST /api/x HTTP/1.1\r\nHost: x\r\n${auth()}Content-Length: 5, 6\r\n\r\nhello`, status: 400, reason: 'malformed-request', code: /^HPE_/ },
  { name: 'a header name with a trailing space', raw: () => `GET /api/x HTTP/1.1\r\nHost: x\r\n${auth()}X-User-Id : mallory\r\n\r\n`, status: 400, reason: 'malformed-request', code: /^HPE_/ },
  { name: 'obs-fold (a header continued on the next line)', raw: () => `GET /api/x HTTP/1.1\r\nHost: x\r\n${auth()}X-Note: a\r\n b\r\n\r\n`, status: 400, reason: 'malformed-request', code: /^HPE_/ },
  { name: 'headers over server.maxHeaderBytes', raw: () => `GET /api/x HTTP/1.1\r\nHost: x\r\n${auth()}X-Pad: ${'a'.repeat(70_000)}\r\n\r\n`, status: 431, reason: 'headers-too-large', code: /HPE_HEADER_OVERFLOW/ },
  { name: 'CONNECT', raw: () => `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n${auth()}\r\n`, status: 405, reason: 'method-not-supported', code: /^CONNECT$/ },
];

async function counted(reason: string): Promise<number> {
  const text = await (await fetch(`${env.gw.url}/metrics`)).text();
  return Number(new RegExp(`^behalf_client_errors_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

describe('requests the HTTP parser refuses', () => {
  for (const probe of PROBES) {
    it(`${probe.name}: ${probe.status} ${probe.reason}, audited and counted, nothing reaches the backend`, async () => {
      const seen = env.backend.seen.length;
      const before = await counted(probe.reason);
      const reply = await rawExchange(env.gw.url, probe.raw());
      assert.equal(reply.status, probe.status, reply.text.slice(0, 200));
      assert.match(reply.text, new RegExp(`"error":"${probe.reason}"`));
      const requestId = /x-request-id: ([\w-]+)/i.exec(reply.text)?.[1];
      assert.ok(requestId !== undefined, 'the answer names a request id');
      let record;
      for (let i = 0; i < 50 && record === undefined; i++) {
        record = (await env.gw.auditRecords()).findLast((r) => r.requestId === requestId);
        if (record === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(record !== undefined, 'the refusal is in the audit trail');
      assert.equal(record.decision, 'deny');
      assert.equal(record.reason, probe.reason);
      assert.equal(record.status, probe.status);
      assert.equal(record.door, 'http');
      const [code, peer] = (record.detail ?? '').split(' from ');
      assert.match(code ?? '', probe.code);
      assert.equal(peer, '127.0.0.1');
      assert.ok(!JSON.stringify(record).includes(env.token), 'no token in the record');
      assert.equal(await counted(probe.reason), before + 1);
      assert.equal(env.backend.seen.length, seen, 'nothing reached the backend');
    });
  }

  it('a 20 KB token reaches behalf and is refused with its own reason (401 token-too-large), not a bare 431', async () => {
    const big = `Bearer ${'a'.repeat(20_000)}`;
    const reply = await fetch(`${env.gw.url}/api/x`, { headers: { authorization: big } });
    assert.equal(reply.status, 401);
    assert.equal(((await reply.json()) as { error: string }).error, 'token-too-large');
    assert.match(reply.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
  });

  it('the gateway still serves after every probe', async () => {
    const reply = await fetch(`${env.gw.url}/api/x`, { headers: { authorization: `Bearer ${env.token}` } });
    assert.equal(reply.status, 200);
  });
});
