import { printable } from '../../lib/printable.js';
import type { Deny } from '../../pipeline/decision.js';
import type { Reason } from '../../pipeline/reasons.js';
import type { Target } from '../../pipeline/target.js';
import type { McpContext } from './context.js';
import { BEHALF_RPC, RPC } from './protocol.js';

/** JSON-RPC code of "Resource not found" (MCP). */
export const RESOURCE_NOT_FOUND = -32002;

/**
 * How a denial goes out on the MCP wire: HTTP status, JSON-RPC code, message, extra `error.data`;
 * or, with `toolError`, as a `tools/call` result with `isError: true` whose text is `message`
 * (the code is then unused).
 */
export interface WireError {
  readonly status: number;
  readonly code: number;
  readonly message: string;
  readonly data?: Record<string, unknown>;
  /** Sent as a tool execution error (a `CallToolResult` with `isError: true`), not a JSON-RPC error. */
  readonly toolError?: true;
  /** Stateless revision: sent as an `InputRequiredResult` with these members (`inputRequests`), not an error. */
  readonly inputRequired?: Record<string, unknown>;
}

/** The policy's refusals: a JSON-RPC error the model can read (HTTP 200), the reason in the message. */
const POLICY: ReadonlySet<Reason> = new Set(['denied-by-rule', 'no-matching-rule', 'missing-role', 'missing-group', 'condition-error']);

/** Standard messages of the upstream refusals passed on with their own code. */
const PASSED_ON = new Map<number, string>([
  [RESOURCE_NOT_FOUND, 'Resource not found'],
  [RPC.invalidParams, 'Invalid params'],
  [RPC.methodNotFound, 'Method not found'],
]);

/**
 * The one table from a neutral denial (reason, status, target) to the MCP wire. A denial the door
 * made itself (a protocol error: malformed message, session, headers, version) already names its
 * code and is sent as it is. For the stages' denials:
 *
 * | reason | HTTP | code | message |
 * |---|---|---|---|
 * | policy (`denied-by-rule`, `no-matching-rule`, `missing-role`, `missing-group`, `condition-error`) | 200 | -31403 | `<message> (<reason>)` |
 * | `insufficient-scope` | 403 + challenge | -31403 | `<message> (insufficient-scope)` |
 * | `route-not-found`, `tool-definition-changed` | 200 | -32602 (tool, prompt, template), -32002 + `data.uri` (resource) | `Unknown tool: <name>`, ... |
 * | `invalid-arguments` of a tool call | 200 | none: a result with `isError: true` (SEP-1303) | `Invalid arguments for tool <name>: <field problem>` |
 * | `arguments-too-large` | 200 | -32602 | `Invalid arguments for tool <name>: <size bound>` |
 * | `bad-request` about a resource | 200 | -32602 | `Invalid params: <problem>` |
 * | rate, quota, concurrency, runaway (429) | 429 + Retry-After | -31429, `data.retryAfter`, `data.rule` | `Too many requests (<reason>): retry after <n> s` |
 * | `approval-required`, `approval-denied`, `approval-invalid`, `approver-missing` | 200 | a tool call: a result with `isError: true`; else -31403 + `data.approval` | `<message> (<reason>)`: who must approve, where |
 * | `approval-required`, a 2025-11-25 client with URL-mode elicitation, `approvals.url` set | 200 | -32042 + `data.elicitations: [{mode: url, elicitationId, url, message}]` | the message above |
 * | `approval-required` of a tool call, a 2026-07-28 client with URL-mode elicitation, `approvals.url` set, not declined | 200 | none: an `InputRequiredResult` whose `inputRequests` hold a URL-mode `elicitation/create` | the message above |
 * | `limit-store-unavailable`, `approval-unavailable` | 503 | -31503 | `Service unavailable (<reason>)` |
 * | `audit-unavailable` | 503 | -31503 | `Service unavailable: the audit trail cannot be written` |
 * | `upstream-unavailable`, `upstream-error` / `upstream-timeout` | 200 | -31502 / -31504, or the upstream's code when MCP defines it for clients | `upstream ...` |
 * | anything else | as denied | by status: 401 -31401, 403 -31403, 429 -31429, 503 -31503, 500 -32603, else -32600 | as denied |
 */
export function wireErrorOf(ctx: McpContext, denial: Deny): WireError {
  const own = ctx.mcp.errorCode;
  if (own !== undefined) return { status: denial.status, code: own, message: denial.message, ...(ctx.mcp.errorData === undefined ? {} : { data: ctx.mcp.errorData }) };
  const reason = denial.reason;
  const target = ctx.target;
  if (POLICY.has(reason)) return { status: 200, code: BEHALF_RPC.forbidden, message: `${denial.message} (${reason})` };
  switch (reason) {
    case 'insufficient-scope':
      return { status: denial.status, code: BEHALF_RPC.forbidden, message: `${denial.message} (${reason})` };
    case 'route-not-found':
    case 'tool-definition-changed':
      if (denial.upstreamCode !== undefined) return upstreamFailure(denial);
      if (target !== undefined && target.kind !== 'route' && target.kind !== 'message') return notFound(target, denial);
      break;
    case 'invalid-arguments':
    case 'arguments-too-large':
      if (target?.kind === 'tool') {
        const message = `Invalid arguments for tool ${target.tool?.definition.name ?? printable(target.name, 128)}: ${denial.message}`;
        // Since 2025-11-25 (SEP-1303) arguments that break the tool's input schema are a tool
        // execution error the model reads and corrects; the message names fields, never values
        // (validate-arguments.ts). A body that is no CallToolRequest at all (arguments not an
        // object: describe.ts) and arguments over the size bound stay protocol errors.
        if (reason === 'invalid-arguments' && target.tool !== undefined) return { status: 200, code: RPC.invalidParams, message, toolError: true };
        return { status: 200, code: RPC.invalidParams, message };
      }
      break;
    case 'bad-request':
      if (target?.kind === 'resource') return { status: 200, code: RPC.invalidParams, message: `Invalid params: ${denial.message}` };
      break;
    case 'rate-limited':
    case 'quota-exceeded':
    case 'concurrency-limited':
    case 'runaway-agent': {
      const retryAfter = Number(denial.headers?.['retry-after'] ?? 1);
      return {
        status: denial.status,
        code: BEHALF_RPC.tooManyRequests,
        message: `Too many requests (${reason}): retry after ${retryAfter} s`,
        data: { retryAfter, ...(denial.ruleId === undefined ? {} : { rule: denial.ruleId }) },
      };
    }
    case 'approval-required':
    case 'approval-denied':
    case 'approval-invalid':
    case 'approver-missing':
      // The model reads it and tells the user who must approve and where; the same call goes
      // through once approved (docs/approvals.md). A 2025-11-25 client that takes URL-mode
      // elicitation is asked to open the approval page instead (URLElicitationRequiredError).
      if (reason === 'approval-required' && denial.approval?.url !== undefined && ctx.mcp.era === 'modern' && ctx.mcp.urlElicitation === true && target?.kind === 'tool' && !declinedBefore(ctx, denial.approval.id)) {
        // The stateless revision's multi round-trip form: the client opens the page, then sends
        // the same call again (with its `inputResponses`); once approved it goes through.
        const elicitation = { mode: 'url', elicitationId: denial.approval.id, url: denial.approval.url, message: denial.message };
        return { status: 200, code: BEHALF_RPC.forbidden, message: denial.message, inputRequired: { inputRequests: { [approvalInputKey(denial.approval.id)]: { method: 'elicitation/create', params: elicitation } } } };
      }
      if (reason === 'approval-required' && denial.approval?.url !== undefined && ctx.mcp.protocolVersion === '2025-11-25' && ctx.mcp.session?.clientCapabilities?.urlElicitation === true) {
        return {
          status: 200,
          code: RPC.urlElicitationRequired,
          message: denial.message,
          data: { elicitations: [{ mode: 'url', elicitationId: denial.approval.id, url: denial.approval.url, message: denial.message }] },
        };
      }
      if (target?.kind === 'tool') return { status: 200, code: BEHALF_RPC.forbidden, message: `${denial.message} (${reason})`, toolError: true };
      return { status: 200, code: BEHALF_RPC.forbidden, message: `${denial.message} (${reason})`, ...(denial.approval === undefined ? {} : { data: { approval: denial.approval } }) };
    case 'approval-unavailable':
    case 'limit-store-unavailable':
      return { status: denial.status, code: codeFor(denial), message: `Service unavailable (${reason})` };
    case 'audit-unavailable':
      return { status: denial.status, code: codeFor(denial), message: 'Service unavailable: the audit trail cannot be written' };
    case 'upstream-unavailable':
    case 'upstream-timeout':
    case 'upstream-error':
      return upstreamFailure(denial);
    default:
      break;
  }
  return { status: denial.status, code: codeFor(denial), message: denial.message };
}

/** The key of an approval's page in `inputRequests` (and of the client's answer in `inputResponses`). */
function approvalInputKey(id: string): string {
  return `behalf-approval-${id}`;
}

/**
 * Whether the client already answered this approval's page with `decline` or `cancel` (its
 * `params.inputResponses`): then the call gets the `isError` result instead of the page again,
 * so a client never loops on a page its user refused to open.
 */
function declinedBefore(ctx: McpContext, id: string): boolean {
  const msg = ctx.mcp.message;
  const params = msg !== undefined && msg.kind !== 'response' ? msg.params : undefined;
  const responses = params?.['inputResponses'];
  if (typeof responses !== 'object' || responses === null) return false;
  const answer = (responses as Record<string, unknown>)[approvalInputKey(id)];
  const action = typeof answer === 'object' && answer !== null ? (answer as Record<string, unknown>)['action'] : undefined;
  return action === 'decline' || action === 'cancel';
}

function notFound(target: Exclude<Target, { kind: 'route' | 'message' }>, denial: Deny): WireError {
  switch (target.kind) {
    case 'tool':
      return { status: 200, code: RPC.invalidParams, message: `Unknown tool: ${printable(target.name, 128)}` };
    case 'resource':
      return { status: 200, code: RESOURCE_NOT_FOUND, message: 'Resource not found', data: { uri: printable(target.uri, 512) } };
    case 'prompt':
      return { status: 200, code: RPC.invalidParams, message: `Unknown prompt: ${printable(target.name, 512)}` };
    case 'completion':
      return target.ref.kind === 'prompt'
        ? { status: 200, code: RPC.invalidParams, message: `Unknown prompt: ${printable(target.ref.name, 512)}` }
        : { status: 200, code: RPC.invalidParams, message: `Unknown resource template: ${printable(target.ref.uri, 512)}` };
  }
}

/**
 * An upstream that gave no result, for a request other than a tool call (whose failures are
 * `isError` results): a JSON-RPC error (HTTP 200) the model can read. A refusal with a code the
 * client understands keeps its code, with the standard message, never the upstream's.
 */
function upstreamFailure(denial: Deny): WireError {
  const passed = denial.upstreamCode === undefined ? undefined : PASSED_ON.get(denial.upstreamCode);
  if (passed !== undefined) return { status: 200, code: denial.upstreamCode!, message: passed };
  return { status: 200, code: denial.reason === 'upstream-timeout' ? BEHALF_RPC.gatewayTimeout : BEHALF_RPC.badGateway, message: denial.message };
}

/** The JSON-RPC code of a denial the table names no code for, from its HTTP status. */
function codeFor(decision: Deny): number {
  switch (decision.status) {
    case 401:
      return BEHALF_RPC.unauthorized;
    case 403:
      return decision.reason === 'origin-not-allowed' ? RPC.invalidRequest : BEHALF_RPC.forbidden;
    case 429:
      return BEHALF_RPC.tooManyRequests;
    case 503:
      return BEHALF_RPC.unavailable;
    case 500:
      return RPC.internalError;
    default:
      return RPC.invalidRequest;
  }
}
