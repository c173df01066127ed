import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { auditStage, mayAnswerWithoutRecord } from '../audit/stage.js';
import { errorSummary } from '../lib/error-summary.js';
import type { RequestContext } from './context.js';
import { deny, type Deny } from './decision.js';
import type { PipelineDeps } from './deps.js';
import type { Door } from './door.js';
import { STAGES } from './stages.js';
import { targetLabel } from './target.js';

/**
 * The one runner, for every door: receive, every stage in the order of `stages.ts`, then the
 * audit record, then the answer. A request the stages let through is settled by its door (what
 * the client will get), recorded, then sent, so an answer the client sees as complete always has
 * its record: when the record cannot be written, the answer is replaced by a 503 (or sent anyway
 * for a read, with `audit.onFailureForReads: allow`). A denial is recorded, then sent in the
 * door's wire form. Counted once in `behalf_requests_total`, and its time from receipt to the
 * answer observed in `behalf_request_duration_seconds`. Never rejects.
 */
export function createRunner<C extends RequestContext>(door: Door<C>, deps: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const ctx = door.open(req, res, performance.now(), deps.now());
    let denial: Deny | undefined;
    try {
      denial = door.receive(ctx);
      if (denial === undefined) {
        for (const [, stage] of STAGES) {
          const result = stage(ctx, deps, door as unknown as Door);
          // A stage that answered synchronously is not awaited: an await costs a microtask turn.
          denial = result instanceof Promise ? await result : result;
          if (denial !== undefined) break;
        }
      }
      if (denial === undefined) denial = door.settle(ctx);
    } catch (err) {
      deps.logger.error({ err: errorSummary(err), requestId: ctx.requestId }, 'pipeline fault');
      denial = deny(500, 'internal-error', 'internal error', { detail: 'pipeline fault' });
    }
    if (denial !== undefined) {
      ctx.decision = denial;
      ctx.status = door.statusOf(ctx, denial);
    }
    // A proxied response's record was written before its end (forward): no async call for it.
    const recorded = ctx.recorded || (await auditStage(ctx, deps));
    if (denial === undefined && !recorded && !mayAnswerWithoutRecord(ctx, deps)) {
      denial = deny(503, 'audit-unavailable', 'service unavailable', { detail: 'audit record could not be written' });
      ctx.decision = denial;
      ctx.status = door.statusOf(ctx, denial);
    }
    try {
      if (denial !== undefined) door.refuse(ctx, denial);
      else door.send(ctx);
    } catch (err) {
      deps.logger.error({ err: errorSummary(err), requestId: ctx.requestId }, 'answer fault');
      if (!res.destroyed) res.destroy();
    }
    const decision = ctx.decision;
    const outcome = decision?.allow === true ? 'allow' : 'deny';
    deps.metrics.countRequest(ctx.door, targetLabel(ctx.target) || (ctx.route?.id ?? ''), outcome, decision?.reason ?? '');
    deps.metrics.duration.observe({ door: ctx.door, decision: outcome }, (performance.now() - ctx.startedAt) / 1_000);
  };
}
