import type { Stage } from '../pipeline/stage.js';

/**
 * approve: holds a call to a tool or route marked sensitive until a person approves it (issue
 * "Operator console and human approval"). It has its place in the order now, after authorize and
 * before limit, so approvals add behaviour, not plumbing: today nothing is marked sensitive and
 * every request goes on.
 *
 * This does NOT hold anything yet: no request is paused, none is refused here.
 */
export const approveStage: Stage = () => undefined;
