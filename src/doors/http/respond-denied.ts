import { bearerChallenge, challengeErrorFor } from '../../authenticate/index.js';
import type { RequestContext } from '../../pipeline/context.js';
import type { Deny } from '../../pipeline/decision.js';
import type { PipelineDeps } from '../../pipeline/deps.js';
import { resourceMetadataUrl, resourcePathFor } from '../well-known.js';
import { sendDenial } from './respond.js';

/**
 * Sends a denial, adding the RFC 6750 / RFC 9728 challenge where one is due: every 401, and a 403
 * for missing scopes (`insufficient_scope` listing every scope the operation needs).
 */
export function respondDenied(ctx: RequestContext, decision: Deny, deps: PipelineDeps): void {
  let extra: Record<string, string> | undefined;
  if (decision.status === 401 || decision.reason === 'insufficient-scope') {
    const resourceMetadata = resourceMetadataUrl(deps.config, resourcePathFor(ctx.route));
    const error = decision.reason === 'insufficient-scope' ? 'insufficient_scope' : challengeErrorFor(decision.reason);
    extra = {
      'www-authenticate': bearerChallenge({
        resourceMetadata,
        ...(error === undefined ? {} : { error }),
        ...(decision.requiredScopes === undefined ? {} : { scopes: decision.requiredScopes }),
      }),
    };
  }
  ctx.bytesOut += sendDenial(ctx.res, decision, ctx.requestId, extra);
  deps.metrics.requests.inc({ door: ctx.door, route: ctx.route?.id ?? '', decision: 'deny', reason: decision.reason });
}
