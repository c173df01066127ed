import { requestUpstream } from '../../forward/upstream-request.js';
import { deny, type Deny } from '../../pipeline/decision.js';
import type { Door } from '../../pipeline/door.js';
import { answer } from './answer.js';
import type { McpContext } from './context.js';
import type { McpDeps } from './deps.js';
import { RPC } from './protocol.js';
import { rpcDeny } from './respond.js';
import { MAX_SUBSCRIPTIONS_PER_SESSION } from './subscriptions.js';

/**
 * `resources/subscribe`: sent to the upstream that serves the URI (through forward, with the
 * verified identity) unless the gateway already subscribes to it there for another session; then
 * this session gets its updates on its GET stream. At most {@link MAX_SUBSCRIPTIONS_PER_SESSION}
 * URIs per session.
 */
export async function subscribe(ctx: McpContext, deps: McpDeps, door: Door): Promise<Deny | undefined> {
  const target = ctx.target;
  const session = ctx.mcp.session;
  if (target?.kind !== 'resource' || target.upstream === undefined || session === undefined) {
    return deny(500, 'internal-error', 'internal error', { detail: 'subscribe without a resolved resource and session' });
  }
  const upstream = target.upstream;
  const registry = deps.subscriptions;
  ctx.backend = upstream.id;
  if (registry.has(session.id, upstream.id, target.uri)) return answer(ctx, {});
  if (registry.count(session.id) >= MAX_SUBSCRIPTIONS_PER_SESSION) {
    return rpcDeny(ctx, 200, 'bad-request', RPC.invalidRequest, `Too many subscriptions: at most ${MAX_SUBSCRIPTIONS_PER_SESSION} per session`);
  }
  const identity = ctx.identity!;
  if (registry.active(upstream.id, target.uri)) {
    registry.add(session.id, identity, upstream, target.uri);
    ctx.detail = 'joined the gateway\'s upstream subscription';
    return answer(ctx, {});
  }
  const refused = await requestUpstream(ctx, deps, door, upstream, 'resources/subscribe', { uri: target.uri });
  if (refused !== undefined || ctx.outcome?.kind !== 'upstream') return refused;
  registry.add(session.id, identity, upstream, target.uri);
  return answer(ctx, {});
}

/**
 * `resources/unsubscribe`: this session no longer gets the URI's updates; the upstream is
 * unsubscribed when no session wants them any more. Answers `{}` for a URI the session had not
 * subscribed to, as for one it had.
 */
export function unsubscribe(ctx: McpContext, deps: McpDeps): Deny | undefined {
  const target = ctx.target;
  const session = ctx.mcp.session;
  if (target?.kind === 'resource' && session !== undefined) {
    const upstream = deps.subscriptions.remove(session.id, target.uri);
    if (upstream !== undefined) ctx.backend = upstream;
    ctx.detail = upstream === undefined ? 'no such subscription' : 'unsubscribed';
  }
  return answer(ctx, {});
}
