import type { Config } from '../config/schema.js';
import { compileOutgoingHeaders, type OutgoingHeaderBuilder } from './identity/outgoing-headers.js';
import { routeAudience } from './identity/signed-assertion.js';

/** What forward needs per route, compiled once at start. */
export interface ForwardPlan {
  readonly headers: OutgoingHeaderBuilder;
  readonly audience: string;
}

export function compileForwardPlans(config: Config): ReadonlyMap<string, ForwardPlan> {
  const plans = new Map<string, ForwardPlan>();
  for (const route of config.routes) {
    plans.set(route.id, {
      headers: compileOutgoingHeaders(route, { publicUrl: config.server.publicUrl, serverStripHeaders: config.server.stripHeaders }),
      audience: routeAudience(route),
    });
  }
  return plans;
}
