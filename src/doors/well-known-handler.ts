import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Policy } from '../authorize/policy.js';
import type { Config } from '../config/schema.js';
import type { SigningKeys } from '../forward/identity/signing-keys.js';
import type { Metrics } from '../observe/metrics.js';
import { splitUrl } from '../pipeline/context.js';
import { sendJson } from './http/respond.js';
import { JWKS_PATH, PRM_PATH, protectedResourceMetadata, resourceForMetadataPath } from './well-known.js';

export interface WellKnownDeps {
  config: Config;
  policy: Policy;
  signingKeys: SigningKeys;
  metrics: Metrics;
  /** Protected resources besides the root and the routes (the MCP endpoint), by path, with their `scopes_supported`. */
  extraResources?: ReadonlyMap<string, readonly string[]>;
  ready(): Promise<{ ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }>;
}

/**
 * The unauthenticated endpoints: protected resource metadata (RFC 9728, readable by a page of
 * any origin: `Access-Control-Allow-Origin: *`, and its preflight answered), the gateway's public
 * keys, health and metrics. Everything else goes through the pipeline.
 */
export function createWellKnownHandler(deps: WellKnownDeps) {
  const { config } = deps;
  const routeScopes = new Map<string, string[]>();
  const scopesFor = (resource: string): readonly string[] => {
    if (resource === '/') return deps.policy.scopes;
    const extra = deps.extraResources?.get(resource);
    if (extra !== undefined) return extra;
    let scopes = routeScopes.get(resource);
    if (scopes === undefined) {
      const route = config.routes.find((r) => r.path.replace(/\/+$/, '') === resource);
      const ids = route === undefined ? [] : [route.id];
      scopes = [...new Set(config.policies.filter((p) => p.match.routes === undefined || p.match.routes.some((r) => ids.includes(r))).flatMap((p) => p.scopes))];
      routeScopes.set(resource, scopes);
    }
    return scopes;
  };

  return {
    handles(req: IncomingMessage): boolean {
      const { path } = splitUrl(req.url ?? '/');
      return path.startsWith('/.well-known/') || path === '/healthz' || path === '/readyz' || path === '/metrics';
    },
    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const { path } = splitUrl(req.url ?? '/');
      const metadata = path === PRM_PATH || path.startsWith(`${PRM_PATH}/`);
      // Protected resource metadata is public and the same for everyone: any page may read it
      // (a browser-based MCP client discovers its authorization server there), without credentials.
      if (metadata) {
        res.setHeader('access-control-allow-origin', '*');
        if (req.method === 'OPTIONS') {
          res.writeHead(204, {
            'access-control-allow-methods': 'GET, HEAD',
            // Clients send `MCP-Protocol-Version` on discovery requests; nothing here reads any header.
            'access-control-allow-headers': '*',
            'access-control-max-age': '600',
          });
          res.end();
          return;
        }
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendJson(res, 405, { error: 'method-not-allowed', message: 'method not allowed' }, { allow: 'GET, HEAD' });
        return;
      }
      if (path === JWKS_PATH) {
        sendJson(res, 200, deps.signingKeys.publicJwks(), { 'cache-control': 'public, max-age=300' });
        return;
      }
      if (metadata) {
        const resource = resourceForMetadataPath(config, path, [...(deps.extraResources?.keys() ?? [])]);
        if (resource === undefined) {
          sendJson(res, 404, { error: 'route-not-found', message: 'no such protected resource' });
          return;
        }
        sendJson(res, 200, protectedResourceMetadata(config, resource, scopesFor(resource)), { 'cache-control': 'public, max-age=300' });
        return;
      }
      if (path === '/healthz') {
        sendJson(res, 200, { status: 'ok' }, { 'cache-control': 'no-store' });
        return;
      }
      if (path === '/readyz') {
        const status = await deps.ready();
        sendJson(res, status.ready ? 200 : 503, status, { 'cache-control': 'no-store' });
        return;
      }
      if (path === '/metrics') {
        for (const update of deps.metrics.beforeScrape) update();
        const text = await deps.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(text);
        return;
      }
      sendJson(res, 404, { error: 'route-not-found', message: 'not found' });
    },
  };
}
