/**
 * Which client request headers never reach a backend. Two classes:
 * - `routine`: headers the gateway replaces or that only make sense on the client's connection
 *   (hop-by-hop, Host, Content-Length, the client's bearer token). Removing them is not a sign
 *   of anything.
 * - `identity`: headers that claim an identity, a credential, a client address or a different
 *   method or URL. Backends and frameworks commonly trust these from "their" proxy (RFC 9700
 *   §4.13), so a client that sends one may be trying to impersonate someone; the forward stage
 *   reports their names for the audit record.
 *
 * The list aims at names with a known trusting consumer. It deliberately keeps generic `x-client-*`
 * headers (SDK names and versions such as `x-client-version`) and strips only the client address
 * and client-certificate ones.
 */

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the legacy ones proxies still see. */
export const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'] as const;

/** Exact names removed as routine. `expect` goes because the body is already read in full. */
const ROUTINE_EXACT = [...HOP_BY_HOP, 'host', 'content-length', 'authorization', 'proxy-authorization', 'expect', 'x-request-id'] as const;

/** Exact names removed as identity claims. */
const IDENTITY_EXACT = [
  // Client address: replaced by the gateway's own X-Forwarded-For (see outgoing-headers.ts).
  'forwarded', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip', 'x-client-ip',
  // Generic user / account / permission claims.
  'remote-user', 'x-principal', 'x-identity', 'x-subject', 'x-role', 'x-roles', 'x-group', 'x-groups', 'x-scope', 'x-scopes',
  'x-permissions', 'x-account-id', 'x-org', 'x-orgid', 'x-anonymous-consumer',
  // Credentials meant for the gateway or a backend: the gateway holds those, never the client.
  'x-api-key', 'api-key', 'x-access-token', 'x-id-token', 'x-refresh-token',
  // Method and URL overrides: would make a backend run another method or path than the one
  // the policy allowed and the assertion binds.
  'x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url', 'x-original-uri', 'x-original-method',
] as const;

/** Name prefixes removed as identity claims. */
const IDENTITY_PREFIXES = [
  'x-user', // x-user, x-user-id, x-userid, x-username, x-userinfo (Kong OIDC), ...
  'x-forwarded-', // every X-Forwarded-*: -for/-proto/-host are re-set by the gateway; -user, -email, -groups, -preferred-username (oauth2-proxy), -client-cert (Envoy XFCC)
  'x-tenant',
  'x-org-',
  'x-organization',
  'x-auth', // x-auth-user, x-auth-request-* (oauth2-proxy), x-authenticated-* (Kong), x-authorization
  'x-behalf', // behalf's own namespace, including the default assertion header
  'x-remote-', // x-remote-user, x-remote-group (Kubernetes front proxy)
  'x-email',
  'x-consumer-', // Kong consumer headers
  'x-credential-',
  'x-ms-client-principal', // Azure App Service / Static Web Apps
  'x-ms-token-',
  'x-goog-authenticated-user', // Google IAP
  'x-goog-iap-',
  'x-amzn-oidc', // AWS ALB
  'x-apigateway-', // AWS API Gateway event/context
  'x-jwt-assertion', // WSO2
  'x-client-cert', // client TLS certificate, as forwarded by TLS terminators
  'x-client-dn',
  'x-client-verify',
  'x-ssl-client',
  'ssl-client',
  'x-arr-clientcert', // Azure ARR
  'impersonate-', // Kubernetes Impersonate-User / -Group / -Uid / -Extra-*
] as const;

/** How a client header is treated: `keep`, or removed as `routine` or `identity`. */
export type HeaderClass = 'keep' | 'routine' | 'identity';

const routine = new Set<string>(ROUTINE_EXACT);
const identity = new Set<string>(IDENTITY_EXACT);
/** Bounded memo: clients send few distinct names, but a hostile one may send many. */
const memo = new Map<string, HeaderClass>();
const MEMO_MAX = 2_048;

/**
 * Classifies a lower-case header name against the built-in lists. `cookie` is `keep` here (the
 * route decides); configured strip lists and injected names are applied by the caller.
 *
 * This does NOT know about a backend's own custom identity headers: add those to
 * `server.stripHeaders` or `route.stripHeaders`.
 */
export function classifyHeader(name: string): HeaderClass {
  const known = memo.get(name);
  if (known !== undefined) return known;
  let result: HeaderClass = 'keep';
  if (routine.has(name)) result = 'routine';
  else if (identity.has(name) || name.startsWith(':') || IDENTITY_PREFIXES.some((p) => name.startsWith(p))) result = 'identity';
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(name, result);
  return result;
}

/** The built-in lists, for documentation and tests. */
export const BUILT_IN_STRIPPED = { routineExact: ROUTINE_EXACT, identityExact: IDENTITY_EXACT, identityPrefixes: IDENTITY_PREFIXES } as const;
