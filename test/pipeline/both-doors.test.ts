/**
 * Both doors, one table (both-doors-table.ts). Every scenario is sent through the HTTP door (a
 * route) and through the MCP door (a config tool calling the same route's backend), the MCP door
 * in both its wire forms: session-based (2025-11-25, after `initialize`) and stateless
 * (2026-07-28, one POST). For each request the test checks:
 *   - what the client sees: the HTTP door's `{ error: <reason> }` and status, or the MCP door's
 *     JSON-RPC `error.data.reason`, code and status (for a backend failure of a tool call, an
 *     `isError` result, as MCP wants it), and the WWW-Authenticate / Retry-After headers;
 *   - that the audit trail grew by EXACTLY ONE record, this request's, with the table's decision
 *     and reason (the same on every door), the status the client saw, the user, and no token;
 *   - what the backend saw: nothing for a refusal; for an allowed call the verified identity (a
 *     signed assertion it verifies with `behalf/backend`, and `X-User-Id`), never the client's token.
 * A last test reads the whole trail: one record per request sent, none missing, none extra.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createVerifier } from '../../src/backend/index.js';
import type { Reply } from '../e2e/bounded-client.js';
import {
  HR_AUDIENCE,
  httpView,
  mcpView,
  openMcpSession,
  sendHttp,
  sendMcpSession,
  sendMcpStateless,
  startBothDoorsEnv,
  type BothDoorsEnv,
  type ClientView,
  type McpSession,
} from './both-doors-env.js';
import { BACKEND_ANSWER, SCENARIOS, TOKENS, type Scenario, type TokenName } from './both-doors-table.js';

type DoorKind = 'http' | 'mcp';

interface Door {
  name: string;
  kind: DoorKind;
  send(s: Scenario, authorization: string | undefined): Promise<Reply>;
}

let env: BothDoorsEnv;
let session: McpSession;
/** Every request id the gateway answered in this file, setup included: the trail must hold exactly these. */
const sent: string[] = [];

const DOORS: Door[] = [
  { name: 'HTTP door', kind: 'http', send: (s, auth) => sendHttp(env, s.http, auth) },
  { name: 'MCP door, session (2025-11-25)', kind: 'mcp', send: (s, auth) => sendMcpSession(env, session, s.mcp, auth) },
  { name: 'MCP door, stateless (2026-07-28)', kind: 'mcp', send: (s, auth) => sendMcpStateless(env, s.mcp, auth) },
];

before(async () => {
  env = await startBothDoorsEnv();
  const now = env.clock.now();
  await env.gateway.revocations.add({ kind: 'user', value: 'bob', at: now, until: now + 86_400_000, reason: 'laptop stolen' });
  // The session is Alice's; requests in it with other tokens are refused at authenticate, before the session is looked at.
  session = await openMcpSession(env, (await TOKENS.alice(env))!);
  sent.push(...session.requestIds);
});
after(() => env?.close());

const tokenFor = (s: Scenario, kind: DoorKind): TokenName => (typeof s.token === 'string' ? s.token : s.token[kind]);

async function sendOne(door: Door, s: Scenario, authorization: string | undefined): Promise<ClientView> {
  const reply = await door.send(s, authorization);
  const view = door.kind === 'http' ? httpView(reply) : mcpView(reply);
  assert.match(view.requestId, /^[A-Za-z0-9_-]{16,}$/, 'every answer carries X-Request-Id');
  sent.push(view.requestId);
  return view;
}

function assertClientView(door: Door, s: Scenario, view: ClientView): void {
  const wire = s.mcpWire;
  if (door.kind === 'http') {
    assert.equal(view.status, s.httpStatus, 'HTTP status');
    assert.equal(view.reason, s.decision === 'allow' ? undefined : s.reason, 'the reason in { error }');
    if (s.decision === 'allow') assert.equal(view.answer, BACKEND_ANSWER, "the backend's answer");
  } else if ('rpc' in wire) {
    assert.equal(view.status, wire.status, 'HTTP status');
    assert.equal(view.rpcCode, wire.rpc, 'JSON-RPC error code');
    assert.equal(view.reason, s.reason, 'the reason in error.data.reason');
  } else {
    assert.equal(view.status, wire.status, 'HTTP status');
    assert.equal(view.rpcCode, undefined, 'a tool result, not a JSON-RPC error');
    if ('isError' in wire) {
      assert.equal(view.isError, true, `isError (text: ${view.answer})`);
      assert.match(view.answer ?? '', wire.isError, 'the isError text');
    } else {
      assert.equal(view.isError, undefined, `no isError (text: ${view.answer})`);
      assert.equal(view.answer, BACKEND_ANSWER, "the backend's answer");
    }
  }

  const challenge = view.wwwAuthenticate;
  if (s.challenge === undefined) {
    assert.equal(challenge, undefined, 'no WWW-Authenticate');
  } else {
    // Each door names its own protected resource (RFC 9728): the route's prefix, or the MCP endpoint.
    const metadata = `${env.publicUrl}/.well-known/oauth-protected-resource${door.kind === 'mcp' ? '/mcp' : '/api/hr'}`;
    assert.ok(challenge !== undefined, 'WWW-Authenticate is sent');
    assert.ok(challenge.startsWith(`Bearer resource_metadata="${metadata}"`), `WWW-Authenticate names this door's resource metadata: ${challenge}`);
    assert.equal(/error="([^"]*)"/.exec(challenge)?.[1], s.challenge === 'bare' ? undefined : s.challenge, `WWW-Authenticate error: ${challenge}`);
    if (s.challenge === 'insufficient_scope') assert.match(challenge, /scope="hr:read"/, 'the step-up names the scope');
  }
  assert.equal(view.retryAfter, s.retryAfter, 'Retry-After');
}

/** Opens a fresh rate window and spends it with one identical call, which must be allowed. */
async function spendRateWindow(door: Door, s: Scenario, authorization: string | undefined): Promise<void> {
  env.clock.advance(60_000);
  const view = await sendOne(door, s, authorization);
  assert.equal(view.status, 200, `the call that spends the window: ${JSON.stringify(view)}`);
  assert.equal(view.reason, undefined);
  assert.notEqual(view.isError, true);
}

/** The backend got this request with the verified identity, and never the client's token. */
async function assertIdentityForwarded(door: Door, s: Scenario, view: ClientView, authorization: string, seen: BothDoorsEnv['backend']['seen']): Promise<void> {
  const [req] = seen;
  assert.ok(req);
  assert.equal(req.headers['x-request-id'], view.requestId, 'the backend got this request');
  assert.equal(req.headers['x-user-id'], 'alice', 'X-User-Id from the verified identity');
  assert.equal(req.headers['authorization'], undefined, 'no Authorization to the backend');
  const token = authorization.replace(/^Bearer /, '');
  for (const [name, value] of Object.entries(req.headers)) assert.ok(!String(value).includes(token), `the client's token reached the backend in ${name}`);
  const verifier = createVerifier({ issuer: env.publicUrl, audience: HR_AUDIENCE, now: env.clock.now });
  const caller = await verifier.verify(req, req.body);
  assert.deepEqual([caller.user, caller.scopes, caller.tool], ['alice', ['hr:read'], door.kind === 'mcp' ? s.mcp.tool : undefined], 'user, scopes and tool of the assertion');
}

for (const s of SCENARIOS) {
  describe(`${s.name} -> ${s.reason}`, () => {
    for (const door of DOORS) {
      it(door.name, async (t) => {
        const authorization = await TOKENS[tokenFor(s, door.kind)](env);
        if (s.spendRateWindow) await spendRateWindow(door, s, authorization);
        const trailBefore = (await env.auditRecords()).length;
        const seenBefore = env.backend.seen.length;

        const view = await sendOne(door, s, authorization);
        assertClientView(door, s, view);

        const fresh = (await env.auditRecords()).slice(trailBefore);
        assert.equal(fresh.length, 1, `exactly one new audit record (got: ${fresh.map((r) => `${r.requestId} ${r.reason}`).join(', ') || 'none'})`);
        const record = fresh[0]!;
        assert.equal(record.requestId, view.requestId, "the record is this request's");
        assert.equal(record.door, door.kind, 'record door');
        assert.deepEqual({ decision: record.decision, reason: record.reason }, { decision: s.decision, reason: s.reason }, 'record decision and reason');
        // A tool whose backend gave no answer is still an isError result the model reads.
        if (door.kind === 'mcp' && 'isError' in s.mcpWire) assert.equal(record.resultError, true, 'the record marks the failed result');
        assert.equal(record.status, view.status, 'the record has the status the client saw');
        assert.equal(record.user, s.user, 'record user');
        if (s.user !== undefined && s.reason !== 'token-revoked') {
          if (door.kind === 'http') assert.equal(record.route, s.reason === 'route-not-found' ? undefined : s.http.path.split('/')[2], 'record route');
          else if (s.mcp.rawBody === undefined) assert.deepEqual([record.rpcMethod, record.tool], ['tools/call', s.mcp.tool], 'record method and tool');
        }
        if (authorization !== undefined) assert.ok(!JSON.stringify(record).includes(authorization.replace(/^Bearer /, '')), 'no token in the record');

        const seen = env.backend.seen.slice(seenBefore);
        assert.equal(seen.length, s.backendSees ?? 0, `requests the backend received: ${seen.map((r) => r.url).join(', ')}`);
        if (s.decision === 'allow') await assertIdentityForwarded(door, s, view, authorization!, seen);
      });
    }
  });
}

describe('the whole trail', () => {
  it('holds exactly one record per request sent in this file, and no other', async () => {
    const byId = new Map<string, number>();
    for (const r of await env.auditRecords()) byId.set(r.requestId, (byId.get(r.requestId) ?? 0) + 1);
    assert.deepEqual([...byId].filter(([, n]) => n > 1), [], 'requests audited more than once');
    assert.deepEqual(sent.filter((id) => !byId.has(id)), [], 'requests never audited');
    assert.deepEqual([...byId.keys()].filter((id) => !sent.includes(id)), [], 'records of requests this file did not send');
  });
});
