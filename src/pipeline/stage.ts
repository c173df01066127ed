import type { RequestContext } from './context.js';
import type { Deny } from './decision.js';
import type { PipelineDeps } from './deps.js';
import type { Door } from './door.js';

/**
 * A stage reads and fills the context. It returns a denial to stop the request, or undefined to
 * go on; it throws only for bugs and faults. It knows the door only through the {@link Door}
 * interface (to ask it to read its wire format or open a call), never its wire format.
 */
export type Stage = (ctx: RequestContext, deps: PipelineDeps, door: Door) => Deny | undefined | Promise<Deny | undefined>;
