/**
 * The both-doors table: the tokens clients send and the scenarios, each with what the HTTP door
 * (a route) and the MCP door (a config tool calling the same route's backend) must answer. The
 * routes, tools and policy they refer to are in both-doors-env.ts.
 */
import { BEHALF_RPC, RPC } from '../../src/doors/mcp/protocol.js';
import type { Reason } from '../../src/pipeline/reasons.js';
import type { BothDoorsEnv, HttpCall, McpCall } from './both-doors-env.js';

const bearer = (token: string): string => `Bearer ${token}`;
const bothDoors = (env: BothDoorsEnv): string[] => [env.publicUrl, env.mcpUrl];
const secondsAt = (env: BothDoorsEnv): number => Math.floor(env.clock.now() / 1000);

/**
 * What clients put in `Authorization`. Real RS256 tokens from the dev IdP, minted at the
 * injected clock's time; scope `hr:read` unless the name says otherwise.
 */
export const TOKENS = {
  none: async () => undefined,
  /** Audience: both doors (the gateway, and `<gateway>/mcp`). */
  alice: async (env: BothDoorsEnv) => bearer(await env.idp.mint('alice', { audience: bothDoors(env) })),
  'alice, no scope': async (env: BothDoorsEnv) => bearer(await env.idp.mint('alice', { audience: bothDoors(env), scopes: [] })),
  'alice, expired an hour ago': async (env: BothDoorsEnv) => {
    const t = secondsAt(env);
    return bearer(await env.idp.mint('alice', { audience: bothDoors(env), claims: { iat: t - 7_200, nbf: t - 7_200, exp: t - 3_600 } }));
  },
  'alice, valid from in 10 minutes': async (env: BothDoorsEnv) => {
    const t = secondsAt(env);
    return bearer(await env.idp.mint('alice', { audience: bothDoors(env), claims: { iat: t + 600, nbf: t + 600, exp: t + 4_200 } }));
  },
  'alice, for payroll': async (env: BothDoorsEnv) => bearer(await env.idp.mint('alice', { audience: 'https://payroll.example.test' })),
  /** RFC 8707: the MCP endpoint is a resource of its own, so this token is not for it. */
  'alice, HTTP door only': async (env: BothDoorsEnv) => bearer(await env.idp.mint('alice', { audience: env.publicUrl })),
  'alice, MCP door only': async (env: BothDoorsEnv) => bearer(await env.idp.mint('alice', { audience: env.mcpUrl })),
  /** Alice's header and claims under the signature of bob's token: a forgery. */
  'alice, forged signature': async (env: BothDoorsEnv) => {
    const [header, claims] = (await env.idp.mint('alice', { audience: bothDoors(env) })).split('.');
    const signature = (await env.idp.mint('bob', { audience: bothDoors(env) })).split('.')[2];
    return bearer(`${header}.${claims}.${signature}`);
  },
  /** Not an RFC 6750 b64token. */
  'malformed header': async () => 'Bearer not@a-token',
  /** The test revokes user bob (every token, whenever issued) before the scenarios run. */
  'bob, revoked': async (env: BothDoorsEnv) => bearer(await env.idp.mint('bob', { audience: bothDoors(env) })),
} satisfies Record<string, (env: BothDoorsEnv) => Promise<string | undefined>>;

/** A row of {@link TOKENS}. */
export type TokenName = keyof typeof TOKENS;

/** What the MCP door's client sees: a JSON-RPC error, an `isError` tool result, or the backend's answer as a result. */
export type McpWire = { status: number; rpc: number } | { status: number; isError: RegExp } | { status: number; result: 'backend answer' };

/** The bearer challenge due on both doors: its `error` (none for `bare`); `insufficient_scope` also names the scope. */
export type Challenge = 'bare' | 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** One row: a request per door, and what both doors must answer and record. */
export interface Scenario {
  name: string;
  /** One token for both doors, or one per door. */
  token: TokenName | { http: TokenName; mcp: TokenName };
  http: HttpCall;
  mcp: McpCall;
  /** The one reason code of both doors: the client's (unless an `isError` result) and the audit record's. */
  reason: Reason;
  decision: 'allow' | 'deny';
  httpStatus: number;
  mcpWire: McpWire;
  /** `WWW-Authenticate`, when due (on both doors). */
  challenge?: Challenge;
  /** `Retry-After` in seconds (on both doors). */
  retryAfter?: string;
  /** The user the audit record names; absent when no token was verified. */
  user?: string;
  /** Requests this call makes reach the backend (default 0: a refusal never reaches it). */
  backendSees?: number;
  /** First open a new rate window (the clock moves 60 s) and spend it with one identical, allowed call. */
  spendRateWindow?: true;
  /** Where the doors legitimately differ on the wire; the reason and the record are still the same. */
  note?: string;
}

/** What the backend answers to every call that reaches it (except on the slow route). */
export const BACKEND_ANSWER = '{"ok":true}';

const GET = (path: string): HttpCall => ({ method: 'GET', path });
const tool = (name: string): McpCall => ({ tool: name });
const rpcError = (status: number, rpc: number): McpWire => ({ status, rpc });
const UNAUTHORIZED = rpcError(401, BEHALF_RPC.unauthorized);
const PROFILE = { http: GET('/api/hr/profile'), mcp: tool('hr_profile') };

/** The table, in pipeline order: authenticate, resolve, screen(in), authorize, limit, forward. */
export const SCENARIOS: Scenario[] = [
  // authenticate: 401 + WWW-Authenticate on both doors
  { name: 'no token', token: 'none', ...PROFILE,
    reason: 'token-missing', decision: 'deny', httpStatus: 401, mcpWire: UNAUTHORIZED, challenge: 'bare' },
  { name: 'malformed Authorization header', token: 'malformed header', ...PROFILE,
    reason: 'token-malformed', decision: 'deny', httpStatus: 401, mcpWire: UNAUTHORIZED, challenge: 'invalid_request' },
  { name: 'forged signature', token: 'alice, forged signature', ...PROFILE,
    reason: 'token-invalid', decision: 'deny', httpStatus: 401, mcpWire: UNAUTHORIZED, challenge: 'invalid_token' },
  { name: 'expired token', token: 'alice, expired an hour ago', ...PROFILE,
    reason: 'token-expired', decision: 'deny', httpStatus: 401, mcpWire: UNAUTHORIZED, challenge: 'invalid_token' },
  { name: 'token not valid yet', token: 'alice, valid from in 10 minutes', ...PROFILE,
    reason: 'token-not-yet-valid', decision: 'deny', httpStatus: 401, mcpWire: UNAUTHORIZED, challenge: 'invalid_token' },
  { name: 'token for another service', token: 'alice, for payroll', ...PROFILE,
    reason: 'audience-mismatch', decision: 'deny', httpStatus: 401, mcpWire: UNAUTHORIZED, challenge: 'invalid_token' },
  { name: 'token for the other door', token: { http: 'alice, MCP door only', mcp: 'alice, HTTP door only' }, ...PROFILE,
    reason: 'audience-mismatch', decision: 'deny', httpStatus: 401, mcpWire: UNAUTHORIZED, challenge: 'invalid_token' },
  { name: 'revoked user', token: 'bob, revoked', ...PROFILE,
    reason: 'token-revoked', decision: 'deny', httpStatus: 401, mcpWire: UNAUTHORIZED, challenge: 'invalid_token', user: 'bob' },

  // resolve
  { name: 'unknown route / tool', token: 'alice', http: GET('/api/nowhere'), mcp: tool('no_such_tool'),
    reason: 'route-not-found', decision: 'deny', httpStatus: 404, mcpWire: rpcError(200, RPC.invalidParams), user: 'alice',
    note: 'MCP: HTTP 200 + JSON-RPC -32602 "Unknown tool", the MCP spec\'s error for an unknown tool' },

  // screen(in)
  { name: 'body that is not JSON', token: 'alice',
    http: { method: 'POST', path: '/api/hr/profile', body: '{"employee":' },
    mcp: { tool: 'hr_profile', rawBody: '{"jsonrpc":"2.0","id":7,"method":"tools/call",' },
    reason: 'bad-request', decision: 'deny', httpStatus: 400, mcpWire: rpcError(400, RPC.parseError), user: 'alice',
    note: 'MCP: the body IS the JSON-RPC message, so this is a parse error (-32700, id null) that names no tool; HTTP: the route is known, its payload is refused' },

  // authorize
  { name: 'no rule allows it', token: 'alice', http: GET('/api/hr/salaries'), mcp: tool('hr_salaries'),
    reason: 'no-matching-rule', decision: 'deny', httpStatus: 403, mcpWire: rpcError(200, BEHALF_RPC.forbidden), user: 'alice',
    note: 'MCP: a policy refusal is HTTP 200 + JSON-RPC -31403, so the model reads it' },
  { name: 'a deny rule beats an allow rule', token: 'alice', http: GET('/api/hr/secrets'), mcp: tool('hr_secrets'),
    reason: 'denied-by-rule', decision: 'deny', httpStatus: 403, mcpWire: rpcError(200, BEHALF_RPC.forbidden), user: 'alice',
    note: 'MCP: HTTP 200 + JSON-RPC -31403, as above' },
  { name: 'missing scope', token: 'alice, no scope', ...PROFILE,
    reason: 'insufficient-scope', decision: 'deny', httpStatus: 403, mcpWire: rpcError(403, BEHALF_RPC.forbidden), challenge: 'insufficient_scope', user: 'alice' },

  // limit
  { name: 'rate limit', token: 'alice', http: GET('/api/limited/ping'), mcp: tool('limited_ping'), spendRateWindow: true,
    reason: 'rate-limited', decision: 'deny', httpStatus: 429, mcpWire: rpcError(429, BEHALF_RPC.tooManyRequests), retryAfter: '60', user: 'alice' },

  // forward
  { name: 'backend down', token: 'alice', http: GET('/api/down/ping'), mcp: tool('down_ping'),
    reason: 'upstream-unavailable', decision: 'deny', httpStatus: 502, mcpWire: { status: 200, isError: /^backend unavailable$/ }, user: 'alice',
    note: 'MCP: a failed tool call is an isError result (MCP spec), not a JSON-RPC error' },
  { name: 'backend slower than its timeout', token: 'alice', http: GET('/api/slow/ping'), mcp: tool('slow_ping'), backendSees: 1,
    reason: 'upstream-timeout', decision: 'deny', httpStatus: 504, mcpWire: { status: 200, isError: /^backend timed out$/ }, user: 'alice',
    note: 'MCP: an isError result, as above' },
  { name: 'allowed', token: 'alice', ...PROFILE, backendSees: 1,
    reason: 'allowed-by-rule', decision: 'allow', httpStatus: 200, mcpWire: { status: 200, result: 'backend answer' }, user: 'alice' },
];
