import { createHash } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json.js';
import type { RequestContext } from '../pipeline/context.js';
import { redactPath } from '../audit/redact.js';

/** Longest arguments text an approver is shown, characters (the binding covers all of them). */
const MAX_SHOWN_ARGUMENTS = 4_000;

/** The one request an approval is for. */
export interface BoundRequest {
  /** SHA-256 (base64url) of everything below that decides what the request does. */
  readonly binding: string;
  /** For people, and safe for chat and audit details: `tool add_review`, `POST /api/hr/reviews/bob?period=` (query values left out). */
  readonly target: string;
  /** The arguments, or the query and JSON body, as the approver is shown them (canonical JSON, bounded), when there are any. */
  readonly arguments?: string;
}

/**
 * What an approval of this request is bound to: the requester (`Identity.id`, already qualified
 * by issuer), the acting client, and what the request does, exactly: for a tool call, the
 * catalog tool and the digest of its arguments' canonical JSON; for a route, the route, method,
 * path and query exactly as received and the digest of the body (the same digests the policy's
 * input and the signed assertion come from, computed once by screen(in)); for a resource,
 * prompt or completion, its kind, name and arguments' digest. A change to any of them (another
 * employee, another rating, a query added) is another request and needs its own approval.
 *
 * Returns undefined when screen(in) has not run (no digest yet): the caller refuses.
 *
 * This does NOT bind the time or the token: the same user may retry with a fresh token, within
 * the approval's validity.
 */
export function boundRequest(ctx: RequestContext): BoundRequest | undefined {
  const identity = ctx.identity;
  const target = ctx.target;
  if (identity === undefined || target === undefined) return undefined;
  let what: unknown[];
  let shown: string;
  let args: unknown;
  switch (target.kind) {
    case 'route': {
      if (ctx.bodyDigest === undefined) return undefined;
      what = ['route', target.route.id, ctx.method, ctx.path, ctx.search, ctx.bodyDigest];
      // The target goes to chat (the webhook) and into audit details: query values stay out of
      // it, as out of the record's path. The approver sees them with the body (`arguments`).
      shown = `${ctx.method} ${redactPath(ctx.path + ctx.search, false)}`;
      args = ctx.search === '' ? (ctx.json ?? undefined) : { query: ctx.search, body: ctx.json ?? null };
      break;
    }
    case 'tool': {
      if (ctx.argumentsDigest === undefined) return undefined;
      const name = target.tool?.definition.name ?? target.name;
      what = ['tool', name, ctx.argumentsDigest];
      shown = `tool ${name}`;
      args = target.arguments;
      break;
    }
    case 'prompt':
      if (ctx.argumentsDigest === undefined) return undefined;
      what = ['prompt', target.prompt?.name ?? target.name, ctx.argumentsDigest];
      shown = `prompt ${target.prompt?.name ?? target.name}`;
      args = target.arguments;
      break;
    case 'resource':
      what = ['resource', target.operation, target.uri];
      shown = `${target.operation} ${target.uri}`;
      break;
    case 'completion':
    case 'message':
      // Nothing a person would weigh: such requests are never held.
      return undefined;
  }
  const binding = createHash('sha256').update(canonicalJson([identity.id, identity.client ?? null, ...what])).digest('base64url');
  const text = args === undefined || args === null ? undefined : canonicalJson(args);
  return {
    binding,
    target: shown.length > 600 ? `${shown.slice(0, 600)}…` : shown,
    ...(text === undefined || text === '{}' ? {} : { arguments: text.length > MAX_SHOWN_ARGUMENTS ? `${text.slice(0, MAX_SHOWN_ARGUMENTS)}…` : text }),
  };
}
