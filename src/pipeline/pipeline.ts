import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { mcpAuditGateStage, mcpAuditStage } from '../audit/mcp-stage.js';
import { auditGateStage, auditStage } from '../audit/stage.js';
import { mcpAuthenticateStage } from '../authenticate/mcp-stage.js';
import { authenticateStage } from '../authenticate/stage.js';
import { mcpAuthorizeStage } from '../authorize/mcp-stage.js';
import { authorizeStage } from '../authorize/stage.js';
import { mcpLimitStage } from '../limit/mcp-stage.js';
import { limitStage } from '../limit/stage.js';
import { mcpForwardStage } from '../forward/mcp-stage.js';
import { forwardStage } from '../forward/stage.js';
import { mcpResolveStage } from '../resolve/mcp-stage.js';
import { resolveStage } from '../resolve/stage.js';
import { mcpScreenInStage } from '../screen/mcp-stage.js';
import { screenInStage } from '../screen/stage.js';
import { respondDenied } from '../doors/http/respond-denied.js';
import { createMcpContext, type McpDeps, type McpStage } from '../doors/mcp/context.js';
import { receiveMcp } from '../doors/mcp/receive.js';
import { respondMcpDenied } from '../doors/mcp/respond.js';
import { createContext, type RequestContext } from './context.js';
import { errorSummary } from '../lib/error-summary.js';
import { deny, type Deny } from './decision.js';
import type { PipelineDeps } from './deps.js';

/**
 * A stage reads and fills the context. It returns a denial to stop the request, or undefined to
 * go on. It throws only for bugs and faults.
 */
export type Stage = (ctx: RequestContext, deps: PipelineDeps) => Deny | undefined | Promise<Deny | undefined>;

/**
 * The order every request goes through. This list is the only place the order is written.
 * `forward` writes the response itself (streamed); audit runs for every request, allowed or not,
 * and the response is not finished before its record is durable.
 */
export const HTTP_STAGES: readonly (readonly [name: string, stage: Stage])[] = [
  ['authenticate', authenticateStage],
  ['resolve', resolveStage],
  ['screen-in', screenInStage],
  ['authorize', authorizeStage],
  ['limit', limitStage],
  ['audit-gate', auditGateStage],
  ['forward', forwardStage],
];

/** Runs one HTTP-door request through every stage, then the audit stage. Never rejects. */
export function createHttpPipeline(deps: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const ctx = createContext(req, res, 'http', performance.now());
    let denial: Deny | undefined;
    try {
      for (const [, stage] of HTTP_STAGES) {
        denial = await stage(ctx, deps);
        if (denial !== undefined) break;
      }
    } catch (err) {
      deps.logger.error({ err: errorSummary(err), requestId: ctx.requestId }, 'pipeline fault');
      denial = deny(500, 'internal-error', 'internal error', { detail: 'pipeline fault' });
    }
    if (denial !== undefined) ctx.decision = denial;
    await auditStage(ctx, deps);
    if (denial !== undefined) respondDenied(ctx, denial, deps);
  };
}

/**
 * The same order for the MCP door, with its adapters: resolve reads the JSON-RPC message (after
 * authenticate, so an unauthenticated caller never makes the gateway buffer a body) and finds the
 * session, method and tool; screen(in) validates the tool's arguments; authorize runs the policy
 * on the tool and its arguments; limit counts the tool call (rate, quota, concurrency, runaway guard); forward answers (a tool call goes to the tool's source). Every
 * answer is audited before it is sent.
 */
export const MCP_STAGES: readonly (readonly [name: string, stage: McpStage])[] = [
  ['authenticate', mcpAuthenticateStage],
  ['resolve', mcpResolveStage],
  ['screen-in', mcpScreenInStage],
  ['authorize', mcpAuthorizeStage],
  ['limit', mcpLimitStage],
  ['audit-gate', mcpAuditGateStage],
  ['forward', mcpForwardStage],
];

/**
 * Runs one request to the MCP endpoint: receive (method, `Origin`), every MCP stage, and for a
 * denial the audit record then the JSON-RPC error. Never rejects.
 */
export function createMcpPipeline(deps: McpDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const ctx = createMcpContext(req, res, performance.now());
    let denial: Deny | undefined;
    try {
      denial = receiveMcp(ctx, deps);
      if (denial === undefined) {
        for (const [, stage] of MCP_STAGES) {
          denial = await stage(ctx, deps);
          if (denial !== undefined) break;
        }
      }
    } catch (err) {
      deps.logger.error({ err: errorSummary(err), requestId: ctx.requestId }, 'pipeline fault');
      denial = deny(500, 'internal-error', 'internal error', { detail: 'pipeline fault' });
    }
    if (denial === undefined) return;
    ctx.decision = denial;
    await mcpAuditStage(ctx, deps);
    respondMcpDenied(ctx, denial, deps);
  };
}
