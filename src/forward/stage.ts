import { changesData, readGate, recordIntent } from '../audit/stage.js';
import { deny } from '../pipeline/decision.js';
import type { Stage } from '../pipeline/stage.js';
import { forwardRoute } from './route.js';
import { callTool } from './tool-call.js';
import { requestUpstream } from './upstream-request.js';

/**
 * forward: first the audit gate (a request that changes data has its intent record written
 * durably, or is refused; a read follows `audit.onFailureForReads` while the trail is failing),
 * then the request goes where its target lives, on behalf of the verified user and never with
 * the user's token:
 * - a route: proxied to its backend and streamed back (route.ts);
 * - a tool call: to the tool's source, a config tool's HTTP backend or an upstream MCP server (tool-call.ts);
 * - reading a resource, getting a prompt, completing an argument: to the upstream that serves it (upstream-request.ts);
 * - a protocol message, and a resource subscription (the door's sessions hold those): answered by the door.
 * What came back is left in `ctx.outcome` for screen(out) and the door's answer.
 */
export const forwardStage: Stage = (ctx, deps, door) => {
  if (changesData(ctx)) return recordIntent(ctx, deps).then((refused) => refused ?? forwardTo(ctx, deps, door));
  return readGate(deps) ?? forwardTo(ctx, deps, door);
};

function forwardTo(...[ctx, deps, door]: Parameters<Stage>): ReturnType<Stage> {
  const target = ctx.target;
  switch (target?.kind) {
    case 'route':
      return forwardRoute(ctx, deps, target.route);
    case 'tool':
      return callTool(ctx, deps, door, target);
    case 'resource':
      if (target.operation !== 'read' || target.upstream === undefined) return door.answerLocally(ctx);
      return requestUpstream(ctx, deps, door, target.upstream, 'resources/read', { uri: target.uri });
    case 'prompt':
      if (target.prompt === undefined) break;
      return requestUpstream(ctx, deps, door, target.prompt.upstream, 'prompts/get', { name: target.prompt.upstreamName, arguments: { ...target.arguments } });
    case 'completion': {
      const upstream = target.prompt?.upstream ?? target.template?.upstream;
      if (upstream === undefined) break;
      const ref = target.prompt !== undefined ? { type: 'ref/prompt', name: target.prompt.upstreamName } : { type: 'ref/resource', uri: target.template!.uriTemplate };
      const params: Record<string, unknown> = { ref, argument: { name: target.argument.name, value: target.argument.value } };
      if (target.given !== undefined) params['context'] = { arguments: { ...target.given } };
      return requestUpstream(ctx, deps, door, upstream, 'completion/complete', params);
    }
    case 'message':
      return door.answerLocally(ctx);
    default:
      break;
  }
  return deny(500, 'internal-error', 'internal error', { detail: 'forward ran without a resolved target' });
}
