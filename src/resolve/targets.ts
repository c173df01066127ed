import type { RequestContext } from '../pipeline/context.js';
import { deny, type Deny } from '../pipeline/decision.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import type { ResourceTarget, Target } from '../pipeline/target.js';
import { EMPTY_INDEX } from '../mcp-upstream/feature-index.js';
import { routeAllowsMethod } from './route-match.js';

/**
 * What a target's name means, by exact lookup (a `Map`: `__proto__`, `toString` or `a/` are just
 * unknown names): a route's methods, a tool in the catalog (a blocked one, changed since it was
 * pinned, is as unknown as a missing one), the upstream that serves a resource URI, a prompt or a
 * resource template. Unknown ones are refused here, before policy (404 `route-not-found`).
 *
 * This does NOT decide who may use what (authorize does).
 */
export function resolveTarget(ctx: RequestContext, target: Target, deps: PipelineDeps): Deny | undefined {
  switch (target.kind) {
    case 'route': {
      if (routeAllowsMethod(target.route, ctx.method)) return undefined;
      return deny(405, 'method-not-allowed', 'method not allowed', { headers: { allow: target.route.methods?.join(', ') ?? '' } });
    }
    case 'tool': {
      const tool = deps.tools?.catalog.get(target.name);
      if (tool === undefined) return deny(404, 'route-not-found', 'unknown tool', { detail: 'no such tool' });
      if (tool.pin === 'blocked') {
        return deny(404, 'tool-definition-changed', 'unknown tool', { detail: 'tool blocked: its upstream definition changed since it was pinned' });
      }
      target.tool = tool;
      return undefined;
    }
    case 'resource':
      return resolveResource(target, deps);
    case 'prompt': {
      const prompt = features(deps).prompt(target.name);
      if (prompt === undefined) return deny(404, 'route-not-found', 'unknown prompt', { detail: 'no such prompt' });
      target.prompt = prompt;
      return undefined;
    }
    case 'completion': {
      if (target.ref.kind === 'prompt') {
        const prompt = features(deps).prompt(target.ref.name);
        if (prompt === undefined) return deny(404, 'route-not-found', 'unknown prompt', { detail: 'no such prompt' });
        target.prompt = prompt;
        return undefined;
      }
      const template = features(deps).template(target.ref.uri);
      if (template === undefined) return deny(404, 'route-not-found', 'unknown resource template', { detail: 'no such template' });
      target.template = template;
      return undefined;
    }
    case 'message':
      return undefined;
  }
}

/**
 * A URI an upstream could read as another one: characters outside visible ASCII, a backslash, a
 * `.` or `..` path segment, or an encoded `.`, `/`, `\` or NUL. Only a URI an upstream listed
 * exactly is exempt: it is what the upstream itself named. A URI that only matches a template
 * must not be one policy sees as `hr://reviews/../salaries/x` and an upstream as
 * `hr://salaries/x`.
 */
export function unsafeUri(uri: string): boolean {
  if (!/^[\x21-\x7e]+$/.test(uri) || uri.includes('\\')) return true;
  if (/%(2e|2f|5c|00)/i.test(uri)) return true;
  const path = uri.replace(/[?#].*$/s, '');
  return path.split('/').some((segment, i) => i > 0 && (segment === '.' || segment === '..'));
}

function resolveResource(target: ResourceTarget, deps: PipelineDeps): Deny | undefined {
  const owner = features(deps).ownerOf(target.uri);
  if (owner !== undefined && !owner.listed && unsafeUri(target.uri)) {
    return deny(400, 'bad-request', 'the resource URI cannot be served safely', { detail: 'URI with dot segments, encoded separators or non-ASCII characters' });
  }
  if (owner === undefined) {
    // Letting go of a URI no upstream serves any more is still letting go.
    if (target.operation === 'unsubscribe') return undefined;
    return deny(404, 'route-not-found', 'resource not found', { detail: 'no upstream lists the URI or a template that produces it' });
  }
  target.upstream = owner.upstream;
  return undefined;
}

function features(deps: PipelineDeps) {
  return deps.features?.() ?? EMPTY_INDEX;
}
