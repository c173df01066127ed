import type { Stage } from '../pipeline/stage.js';

/**
 * screen(out): what a backend answered, before the client (the model) sees it. It has its place
 * in the order now so that redaction and injection flags (issue "Screen what flows both ways")
 * add behaviour, not plumbing: today it lets every outcome through unchanged.
 *
 * This does NOT look at anything yet: no redaction of personal data or secrets, no prompt
 * injection flags. A proxied HTTP response streams through before this stage runs and is never
 * buffered; screening it will need the route to opt in to buffering.
 */
export const screenOutStage: Stage = () => undefined;
