import { allow, deny, type Decision } from '../pipeline/decision.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import type { Target } from '../pipeline/target.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import { promptPolicyInput, resourcePolicyInput, templatePolicyInput, type FeaturePolicyRequest } from './feature-policy.js';
import { toolPolicyInput } from './tool-listing.js';

/**
 * authorize: deny by default; one policy decides every target on the verified identity, the
 * directory, and what the target names:
 * - a route: the route, method, path, the query as screen(in) read it (`request.query`: names
 *   given once; `request.queryAll`: every value) and the parsed JSON body;
 * - a tool call: the tool's catalog name and the arguments (the same input `tools/list` decides
 *   on, tool-listing.ts, so a listed tool is callable and a hidden one is not);
 * - a resource (read, subscribe): its URI; a prompt: its name and arguments; a completion:
 *   whether the user could use the prompt or template it completes for (feature-policy.ts);
 * - a protocol message (initialize, ping, lists, unsubscribe, notifications): nothing beyond the
 *   token, allowed with `protocol-message` (lists are filtered per item by the same policy).
 * The decision carries a stable reason and the rule that matched; a missing scope lists every
 * scope the operation needs, for the door's `insufficient_scope` challenge.
 *
 * This does NOT check that the target exists or is not blocked (resolve did), nor the arguments'
 * shape (screen-in did).
 */
export const authorizeStage: Stage = (ctx, deps) => {
  const identity = ctx.identity;
  const target = ctx.target;
  const directory = ctx.directory;
  if (identity === undefined || target === undefined || directory === undefined) {
    return deny(500, 'internal-error', 'internal error', { detail: 'authorize ran before authenticate/resolve' });
  }
  const decision = decide(ctx, deps, target);
  ctx.decision = decision;
  return decision.allow ? undefined : decision;
};

function decide(ctx: RequestContext, deps: PipelineDeps, target: Target): Decision {
  const identity = ctx.identity!;
  const directory = ctx.directory!;
  if (target.kind === 'route') {
    // screen(in) read the query once; deciding on any other reading of it would reopen the gap.
    if (ctx.query === undefined) return deny(500, 'internal-error', 'internal error', { detail: 'authorize ran before screen-in read the query' });
    return deps.policy.decide({
      identity,
      ...(ctx.user === undefined ? {} : { user: ctx.user }),
      directory,
      route: target.route.id,
      method: ctx.method,
      // A backend that folds case reads `/public/SECRET` as `/public/secret`: so does policy.
      path: target.route.pathRules.caseInsensitive ? ctx.path.toLowerCase() : ctx.path,
      query: ctx.query,
      body: ctx.json ?? null,
    });
  }
  const who: FeaturePolicyRequest = { identity, ...(ctx.user === undefined ? {} : { user: ctx.user }), directory, path: ctx.path };
  switch (target.kind) {
    case 'tool':
      return deps.policy.decide(toolPolicyInput({ ...who, tool: target.tool?.definition.name ?? target.name, arguments: target.arguments }));
    case 'resource':
      // Letting go of a subscription needs nothing beyond the token.
      if (target.operation === 'unsubscribe') return allow('protocol-message');
      return deps.policy.decide(resourcePolicyInput(who, target.uri));
    case 'prompt':
      return deps.policy.decide(promptPolicyInput(who, target.prompt?.name ?? target.name, target.arguments));
    case 'completion':
      return target.prompt !== undefined
        ? deps.policy.listDecision(promptPolicyInput(who, target.prompt.name))
        : deps.policy.listDecision(templatePolicyInput(who, target.template?.uriTemplate ?? ''));
    case 'message':
      return allow('protocol-message');
  }
}
