import { BehalfError } from '../errors.js';
import { fetchJson, type FetchJsonOptions } from './fetch-json.js';

/** Where to look for an issuer's metadata, in order. */
export function discoveryUrls(issuer: string, override?: string): string[] {
  if (override !== undefined) return [override];
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return [];
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return [];
  const trimmed = issuer.replace(/\/+$/, '');
  // RFC 8414 §3.1 inserts the well-known segment between the host and the issuer's path.
  const path = url.pathname.replace(/\/+$/, '');
  return [`${trimmed}/.well-known/openid-configuration`, `${url.origin}/.well-known/oauth-authorization-server${path}`];
}

/**
 * Find the `jwks_uri` of an issuer: OpenID Connect discovery first, then RFC 8414 authorization
 * server metadata, or only `override` when the issuer entry sets `discoveryUrl`.
 *
 * The document's `issuer` must equal the configured issuer exactly (OIDC Discovery §4.3,
 * RFC 8414 §3.3): a document that names another issuer is treated as a failure, which stops a
 * mix-up where one IdP's metadata points at another's keys. `jwks_uri` must be an http(s) URL.
 *
 * This does NOT cache (the caller does), does NOT follow redirects, and does NOT check that the
 * `jwks_uri` is on the issuer's host (IdPs legitimately serve keys from a CDN).
 *
 * @throws BehalfError `discovery-failed` when no candidate yields a valid document.
 */
export async function discoverJwksUri(
  issuer: string,
  override: string | undefined,
  opts: Omit<FetchJsonOptions, 'code'>,
): Promise<string> {
  const urls = discoveryUrls(issuer, override);
  if (urls.length === 0) throw new BehalfError('discovery-failed', `issuer "${issuer}" is not an http(s) URL; set jwksUri`);
  const failures: string[] = [];
  for (const url of urls) {
    try {
      const doc = await fetchJson(url, { ...opts, code: 'discovery-failed' });
      if (doc.issuer !== issuer) {
        failures.push(`${url}: issuer in document does not match`);
        continue;
      }
      const jwksUri = doc.jwks_uri;
      if (typeof jwksUri !== 'string' || !isHttpUrl(jwksUri)) {
        failures.push(`${url}: no valid jwks_uri`);
        continue;
      }
      return jwksUri;
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
  }
  throw new BehalfError('discovery-failed', `discovery failed for issuer "${issuer}": ${failures.join('; ')}`);
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}
