import type { Config, RouteConfig } from '../config/schema.js';

export const PRM_PATH = '/.well-known/oauth-protected-resource';
export const JWKS_PATH = '/.well-known/jwks.json';

/** The public URL of a gateway path: `publicUrl` (never Host or X-Forwarded-*) joined with `path`. */
export function publicUrlOf(config: Config, path: string): string {
  const base = config.server.publicUrl.replace(/\/+$/, '');
  return path === '' || path === '/' ? base : base + path;
}

/** RFC 9728 §3.1: the metadata URL for a resource is the well-known path inserted before its path. */
export function resourceMetadataUrl(config: Config, resourcePath: string): string {
  const url = new URL(config.server.publicUrl);
  const basePath = url.pathname.replace(/\/+$/, '');
  const path = basePath + (resourcePath === '/' ? '' : resourcePath);
  return `${url.origin}${PRM_PATH}${path}`;
}

/** The protected resource a request path belongs to: its route's prefix, or the gateway root. */
export function resourcePathFor(route: RouteConfig | undefined): string {
  if (route === undefined) return '/';
  return route.path.length > 1 && route.path.endsWith('/') ? route.path.slice(0, -1) : route.path;
}

/**
 * RFC 9728 protected resource metadata for one resource (the gateway root or a route prefix).
 * `scopes` are the scopes policy rules for that resource mention.
 */
export function protectedResourceMetadata(config: Config, resourcePath: string, scopes: readonly string[]): Record<string, unknown> {
  const authorizationServers = config.server.authorizationServers ?? [...new Set(config.issuers.map((i) => i.issuer))];
  return {
    resource: publicUrlOf(config, resourcePath),
    authorization_servers: authorizationServers,
    scopes_supported: scopes,
    bearer_methods_supported: ['header'],
    resource_name: 'behalf',
  };
}

/**
 * Finds which resource a metadata request names: `/.well-known/oauth-protected-resource` is the
 * root, `/.well-known/oauth-protected-resource/api/hr` is route `/api/hr`. Returns undefined for a
 * path that names no configured resource (404).
 */
export function resourceForMetadataPath(config: Config, metadataPath: string, extraResources: readonly string[] = []): string | undefined {
  if (!metadataPath.startsWith(PRM_PATH)) return undefined;
  const publicBase = new URL(config.server.publicUrl).pathname.replace(/\/+$/, '');
  let rest = metadataPath.slice(PRM_PATH.length);
  if (publicBase !== '' && rest.startsWith(publicBase)) rest = rest.slice(publicBase.length);
  if (rest === '' || rest === '/') return '/';
  const known = [...config.routes.map((r) => resourcePathFor(r)), ...extraResources];
  return known.includes(rest) ? rest : undefined;
}
