import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { auditGateStage, auditStage } from '../audit/stage.js';
import { authenticateStage } from '../authenticate/stage.js';
import { authorizeStage } from '../authorize/stage.js';
import { forwardStage } from '../forward/stage.js';
import { resolveStage } from '../resolve/stage.js';
import { screenInStage } from '../screen/stage.js';
import { respondDenied } from '../doors/http/respond-denied.js';
import { createContext, type RequestContext } from './context.js';
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

/** A fault's name and message only: never a stack or a request field that could hold a secret. */
export function errorSummary(err: unknown): { name: string; message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { name: err.name, message: err.message, code } : { name: err.name, message: err.message };
  }
  return { name: 'unknown', message: String(err) };
}
