/**
 * Shared pieces of the end-to-end robustness tests: a quiet dev IdP for the demo users, the
 * denial body every refusal must have, and audit lookups with a bounded wait.
 */
import assert from 'node:assert/strict';
import { DEMO_USERS } from '../../examples/hr-demo/launch.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import type { Reply } from './bounded-client.js';
import type { TestGateway } from './harness.js';

/**
 * A dev IdP for Alice, Bob, Carol and Mallory whose tokens are minted for `audience`; it logs
 * nothing. `now` is its clock (default: the real one): give it the gateway's to mint on test time.
 */
export function startQuietIdp(audience: string, now?: () => number): Promise<DevIdp> {
  return startDevIdp({ users: DEMO_USERS, audience, defaultScopes: ['reviews:read'], log: () => undefined, ...(now === undefined ? {} : { now }) });
}

/** `{ authorization: 'Bearer <token>' }` for a demo user. */
export async function bearer(idp: DevIdp, user: string, opts?: Parameters<DevIdp['mint']>[1]): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await idp.mint(user, opts)}` };
}

/**
 * Asserts a refusal as the client sees it: the status, and a JSON body of exactly
 * `{ error, message, requestId }` whose request id is the `X-Request-Id` header. Returns the id.
 */
export function assertDenied(reply: Reply, status: number, error: string, what: string): string {
  assert.equal(reply.status, status, `${what}: status (body ${reply.body.slice(0, 200)})`);
  assert.equal(reply.complete, true, `${what}: the refusal was cut short`);
  assert.match(String(reply.headers['content-type']), /^application\/json/, `${what}: content-type`);
  const json = JSON.parse(reply.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json).sort(), ['error', 'message', 'requestId'], `${what}: body members`);
  assert.equal(json['error'], error, what);
  assert.ok(typeof json['message'] === 'string' && json['message'] !== '', `${what}: no message`);
  assert.ok(typeof json['requestId'] === 'string' && json['requestId'].length >= 16, `${what}: no request id`);
  assert.equal(json['requestId'], reply.headers['x-request-id'], `${what}: body and header request ids differ`);
  return json['requestId'];
}

/**
 * The audit record of `requestId`, waiting up to `waitMs` for it (a response cut short is
 * audited after the client already saw the cut). Fails the test when it never appears.
 */
export async function auditRecordOf(gw: TestGateway, requestId: string, waitMs = 2_000): Promise<StoredAuditRecord> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const record = (await gw.auditRecords()).findLast((r) => r.requestId === requestId);
    if (record !== undefined) return record;
    if (Date.now() > deadline) assert.fail(`request ${requestId} was not audited within ${waitMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** What an audit record must say about one request. */
export interface AuditExpectation {
  decision: 'allow' | 'deny';
  reason: string;
  status?: number;
  upstreamStatus?: number;
  route?: string;
  user?: string;
}

/** Checks every expected record against the trail in one read. */
export async function assertAudited(gw: TestGateway, expected: ReadonlyMap<string, AuditExpectation & { what: string }>): Promise<StoredAuditRecord[]> {
  const records = await gw.auditRecords();
  for (const [requestId, e] of expected) {
    const record = records.findLast((r) => r.requestId === requestId);
    assert.ok(record, `${e.what}: not audited`);
    assert.equal(record.decision, e.decision, `${e.what}: audit decision`);
    assert.equal(record.reason, e.reason, `${e.what}: audit reason`);
    if (e.status !== undefined) assert.equal(record.status, e.status, `${e.what}: audit status`);
    if (e.upstreamStatus !== undefined) assert.equal(record.upstreamStatus, e.upstreamStatus, `${e.what}: audit upstream status`);
    if (e.route !== undefined) assert.equal(record.route, e.route, `${e.what}: audit route`);
    if (e.user !== undefined) assert.equal(record.user, e.user, `${e.what}: audit user`);
  }
  return records;
}

/** A clock a test moves by hand: time passes only when the test says so. */
export interface ManualClock {
  /** The current test time, ms since epoch: pass it as `GatewayOptions.now`. */
  readonly now: () => number;
  /** Moves the clock `ms` forward. */
  advance(ms: number): void;
  /** Sets the clock to `ms` since epoch (never backwards). */
  set(ms: number): void;
}

/** A {@link ManualClock} that starts at `start` (default: the real time now). */
export function manualClock(start = Date.now()): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      assert.ok(ms >= 0, 'a clock does not go back');
      t += ms;
    },
    set(ms) {
      assert.ok(ms >= t, 'a clock does not go back');
      t = ms;
    },
  };
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
