import { approveStage } from '../approve/stage.js';
import { authenticateStage } from '../authenticate/stage.js';
import { authorizeStage } from '../authorize/stage.js';
import { forwardStage } from '../forward/stage.js';
import { limitStage } from '../limit/stage.js';
import { resolveStage } from '../resolve/stage.js';
import { screenInStage } from '../screen/stage.js';
import { screenOutStage } from '../screen/screen-out.js';
import type { Stage } from './stage.js';

/**
 * The order every request goes through, whatever door it came in by. This list is the only place
 * the order is written; `run.ts` runs it, and after it the audit stage writes one record for every
 * request, allowed or not (docs/pipeline.md).
 *
 * - authenticate: verify the bearer token, normalise it to an Identity (401);
 * - resolve: the door reads what is asked into a target; find the route, tool, resource or
 *   prompt it names; join the directory entry (404);
 * - screen-in: bound and read the body, validate tool arguments, digest them (400/413);
 * - authorize: deny by default; the decision carries its reason and rule (403);
 * - approve: hold calls marked sensitive for a person (pass-through until approvals land);
 * - limit: rate, quota, concurrency, runaway guard (429);
 * - forward: the audit gate, then the backend, with the verified identity (502/504);
 * - screen-out: what comes back, before the client sees it (pass-through until screening lands).
 */
export const STAGES: readonly (readonly [name: string, stage: Stage])[] = [
  ['authenticate', authenticateStage],
  ['resolve', resolveStage],
  ['screen-in', screenInStage],
  ['authorize', authorizeStage],
  ['approve', approveStage],
  ['limit', limitStage],
  ['forward', forwardStage],
  ['screen-out', screenOutStage],
];
