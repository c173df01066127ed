import type { IncomingMessage, ServerResponse } from 'node:http';
import { challengeFor } from '../../authenticate/index.js';
import type { Config } from '../../config/schema.js';
import { bodyNotAllowed } from '../../lib/bodiless-methods.js';
import { createContext } from '../../pipeline/context.js';
import { deny, type Deny } from '../../pipeline/decision.js';
import type { Door } from '../../pipeline/door.js';
import type { PipelineDeps } from '../../pipeline/deps.js';
import { createRunner } from '../../pipeline/run.js';
import type { RouteTable } from '../../resolve/route-match.js';
import { unsafePath } from '../../resolve/route-match.js';
import { resourceMetadataUrl, resourcePathFor } from '../well-known.js';
import { sendDenial } from './respond.js';

/**
 * The HTTP door: a reverse proxy for the configured routes (`/api/...`; GPT Actions, OpenAPI
 * clients, custom agents). The request line is the target: the route the path names (longest
 * prefix), whose backend answers and streams back through forward. Denials are a small JSON body
 * `{ error, message, requestId }` with the denial's status; a 401, and a 403 for missing scopes,
 * carry the RFC 6750 / RFC 9728 challenge naming the route's protected resource metadata.
 */
export function createHttpDoor(config: Config, routes: RouteTable): Door {
  const unusedHere = (): Deny => deny(500, 'internal-error', 'internal error', { detail: 'the HTTP door serves routes only' });
  return {
    name: 'http',
    open: (req, res, startedAt, wallMs) => createContext(req, res, 'http', startedAt, wallMs),
    // The route is a pure table lookup, done first so that a 401 names the right protected
    // resource and a token from an issuer the route does not accept is refused by authenticate.
    // A body on a method that has none is refused here, before anything is read or forwarded.
    receive(ctx) {
      ctx.route = routes.match(ctx.path);
      return bodyNotAllowed(ctx.method, ctx.req.headers, ctx.route?.allowBodyOn);
    },
    credentials: (ctx) => (ctx.route?.issuers === undefined ? undefined : { allowedIssuers: ctx.route.issuers }),
    // A path a backend could read differently from the gateway is refused, never rewritten.
    describe(ctx) {
      const unsafe = unsafePath(ctx.path, ctx.route?.pathRules);
      if (unsafe !== undefined) return deny(400, 'bad-request', 'malformed request path', { detail: `unsafe path: ${unsafe}` });
      if (ctx.route !== undefined) ctx.target = { kind: 'route', route: ctx.route };
      return undefined;
    },
    resolved: () => undefined,
    openCall() {
      throw new Error('the HTTP door serves routes only');
    },
    answerLocally: unusedHere,
    // A route's backend answered through forward already (streamed).
    settle: () => undefined,
    send: () => undefined,
    statusOf: (_ctx, denial) => denial.status,
    refuse(ctx, denial) {
      const challenge = challengeFor(denial, resourceMetadataUrl(config, resourcePathFor(ctx.route)));
      ctx.bytesOut += sendDenial(ctx.res, denial, ctx.requestId, challenge === undefined ? undefined : { 'www-authenticate': challenge });
    },
  };
}

/** The HTTP door's request handler: every request runs the pipeline. */
export function createHttpHandler(deps: PipelineDeps, routes: RouteTable): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return createRunner(createHttpDoor(deps.config, routes), deps);
}
