import type { RequestContext } from '../pipeline/context.js';
import type { CallChannel } from '../pipeline/door.js';

/**
 * Runs one backend call on the door's call channel and closes the channel after it. A call the
 * client cancelled or left (the channel's signal aborted, before or after the backend answered)
 * ends as the `cancelled` outcome and resolves to undefined: the door then answers as its
 * protocol asks (nothing for a client that went away). Any other failure is rethrown: a fault.
 */
export async function throughChannel<T>(ctx: RequestContext, call: CallChannel, send: () => Promise<T>): Promise<T | undefined> {
  try {
    const result = await send();
    if (!call.signal.aborted) return result;
  } catch (err) {
    if (!call.signal.aborted) throw err;
  } finally {
    call.close();
  }
  ctx.outcome = { kind: 'cancelled', gone: call.gone };
  return undefined;
}
