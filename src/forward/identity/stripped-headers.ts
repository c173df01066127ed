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
 * Names are compared in their normal form (see {@link normalizeHeaderName}): `X_User_Id`,
 * `x-user-id` and `X-USER-ID` are one name, because CGI, WSGI, Rack, PHP and many Go and Java
 * servers map `-` and `_` to the same variable and join the values (`HTTP_X_USER_ID =
 * "mallory,alice"`).
 *
 * The list aims at names with a known trusting consumer. It deliberately keeps generic `x-client-*`
 * headers (SDK names and versions such as `x-client-version`) and `user-agent`, and strips only
 * the client address and client-certificate ones.
 */

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the legacy ones proxies still see. */
export const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'] as const;

/**
 * Exact names removed as routine. `expect` goes because the body is already read in full;
 * `behalf-approval` is for the gateway (docs/approvals.md); `traceparent` and `tracestate` because
 * the gateway sends its own (lib/trace-context.ts), so a client can never smuggle a second or a
 * malformed one to a backend.
 */
const ROUTINE_EXACT = [...HOP_BY_HOP, 'host', 'content-length', 'authorization', 'proxy-authorization', 'expect', 'x-request-id', 'behalf-approval', 'traceparent', 'tracestate'] as const;

/** Exact names removed as identity claims. */
const IDENTITY_EXACT = [
  // Client address: replaced by the gateway's own X-Forwarded-For (see outgoing-headers.ts).
  'forwarded', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip', 'x-client-ip',
  // Generic user / account / permission claims.
  'user', 'userid', 'username', 'useremail', 'x-uid', 'x-upn', 'x-login', 'x-preferred-username',
  'x-principal', 'x-identity', 'x-subject', 'x-role', 'x-roles', 'x-group', 'x-groups', 'x-scope', 'x-scopes',
  'x-permissions', 'x-account', 'x-accountid', 'x-account-id', 'x-org', 'x-orgid', 'x-anonymous-consumer', 'tenant',
  // Single-sign-on agents that pass the user in a fixed header.
  'gap-auth', 'gap-signature', // oauth2-proxy's legacy names
  'smuser', 'sm-universalid', // SiteMinder (SM_USER is covered by the prefix)
  'iv-user', 'iv-user-l', 'iv-groups', 'iv-creds', 'iv-remote-address', // IBM WebSEAL
  'eppn', // Shibboleth's user attribute
  // Credentials meant for the gateway or a backend: the gateway holds those, never the client.
  'x-api-key', 'api-key', 'x-access-token', 'x-id-token', 'x-refresh-token', 'x-serverless-authorization',
  // Method and URL overrides: would make a backend run another method or path than the one
  // the policy allowed and the assertion binds.
  'x-http-method-override', 'x-http-method', 'x-method-override', 'x-rewrite-url', 'x-envoy-original-path', 'x-envoy-original-url',
] as const;

/**
 * Name prefixes removed as identity claims. Each is at least {@link BUCKET} characters long, so
 * a name is checked against the few prefixes that share its first characters only.
 */
const IDENTITY_PREFIXES = [
  'x-user', // x-user, x-user-id, x-userid, x-username, x-userinfo (Kong OIDC), ...
  'user-', // user-id, user-email, user-roles, ... (user-agent is kept: KEEP_EXACT)
  'x-forwarded-', // every X-Forwarded-*: -for/-proto/-host are re-set by the gateway; -user, -email, -groups, -preferred-username (oauth2-proxy), -client-cert (Envoy XFCC)
  'x-original-', // x-original-url, -uri, -method, -host, -forwarded-for (ingress controllers)
  'x-tenant',
  'tenant-',
  'x-org-',
  'x-organization',
  'x-auth', // x-auth-user, x-auth-request-* (oauth2-proxy), x-authenticated-* (Kong), x-authentik-*, x-authorization
  'x-behalf', // behalf's own namespace, including the default assertion header
  'x-remote-', // x-remote-user, x-remote-group (Kubernetes front proxy)
  'remote-', // remote-user, remote-groups, remote-email, remote-name (Authelia, Apache)
  'x-email',
  'x-employee', // x-employee, x-employee-id, x-employeeid
  'employee-',
  'x-consumer-', // Kong consumer headers
  'x-credential-',
  'x-webauth-', // X-WEBAUTH-USER (Grafana, Gitea, Gogs auth proxy)
  'x-pomerium-', // X-Pomerium-Jwt-Assertion, X-Pomerium-Claim-*
  'cf-access-', // Cloudflare Access: Cf-Access-Authenticated-User-Email, Cf-Access-Jwt-Assertion, service tokens
  'oidc-', // Apache mod_auth_openidc: OIDC_CLAIM_*, OIDC_access_token, OIDC_id_token_payload
  'x-oidc-',
  'mellon-', // Apache mod_auth_mellon: MELLON_*
  'shib-', // Shibboleth: Shib-Session-ID, Shib-Identity-Provider, ...
  'sm-user', // SiteMinder: SM_USER, SM_USERDN
  'oam-', // Oracle Access Manager: OAM_REMOTE_USER, OAM_IDENTITY_DOMAIN
  'x-vouch-', // Vouch Proxy: X-Vouch-User, X-Vouch-IdP-Claims-*
  'x-hasura-', // Hasura session variables: X-Hasura-Role, X-Hasura-User-Id, X-Hasura-Admin-Secret
  'teleport-', // Teleport application access: Teleport-Jwt-Assertion
  'tailscale-', // Tailscale Serve: Tailscale-User-Login, Tailscale-User-Name
  'x-proxy-user', // Hadoop-style proxy users
  'x-impersonate', // X-Impersonate-User, X-Impersonate-Group
  'impersonate-', // Kubernetes Impersonate-User / -Group / -Uid / -Extra-*
  'x-on-behalf-of',
  'x-act-as',
  'x-acting-as',
  'x-run-as',
  'x-sudo',
  'x-ms-client-principal', // Azure App Service / Static Web Apps
  'x-ms-token-',
  'x-goog-authenticated-user', // Google IAP
  'x-goog-iap-',
  'x-amzn-oidc', // AWS ALB
  'x-apigateway-', // AWS API Gateway event/context
  'x-jwt', // x-jwt-assertion (WSO2), x-jwt-payload, x-jwt-claim-* (Envoy, Kong)
  'x-client-cert', // client TLS certificate, as forwarded by TLS terminators
  'x-client-dn',
  'x-client-verify',
  'x-ssl-client',
  'ssl-client',
  'x-arr-clientcert', // Azure ARR
] as const;

/** Ordinary headers a prefix above would otherwise catch. */
const KEEP_EXACT = ['user-agent'] as const;

/** How a client header is treated: `keep`, or removed as `routine` or `identity`. */
export type HeaderClass = 'keep' | 'routine' | 'identity';

/** Prefixes are looked up by their first BUCKET characters. */
const BUCKET = 4;
const routine = new Set<string>(ROUTINE_EXACT);
const identity = new Set<string>(IDENTITY_EXACT);
const keep = new Set<string>(KEEP_EXACT);
const prefixes = new Map<string, string[]>();
for (const p of IDENTITY_PREFIXES) {
  if (p.length < BUCKET) throw new Error(`identity prefix "${p}" is shorter than ${BUCKET} characters`);
  const key = p.slice(0, BUCKET);
  const list = prefixes.get(key);
  if (list === undefined) prefixes.set(key, [p]);
  else list.push(p);
}
/** Bounded memo: clients send few distinct names, but a hostile one may send many. */
const memo = new Map<string, HeaderClass>();
const MEMO_MAX = 2_048;

/**
 * The normal form of a header name: lower case, every `_` written as `-`. Two names with the
 * same normal form reach many backends as one variable (CGI's `HTTP_X_USER_ID` is both
 * `X-User-Id` and `X_User_Id`), so every comparison of a client header against a list uses it.
 *
 * This does NOT fold other look-alikes (a trailing space or a non-ASCII letter): node's parser
 * refuses such names before any stage reads them.
 */
export function normalizeHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}

function classifyNormal(name: string): HeaderClass {
  if (routine.has(name)) return 'routine';
  if (keep.has(name)) return 'keep';
  if (identity.has(name) || name.startsWith(':')) return 'identity';
  const candidates = prefixes.get(name.slice(0, BUCKET));
  if (candidates !== undefined) {
    for (const p of candidates) if (name.startsWith(p)) return 'identity';
  }
  return 'keep';
}

/**
 * Classifies a client header name, in any case and spelled with `-` or `_`, against the built-in
 * lists by its normal form ({@link normalizeHeaderName}). `cookie` is `keep` here (the route
 * decides); configured strip lists, injected names and a route's `forwardHeaders` are applied by
 * the caller. Cost: one memo lookup for a name seen before; otherwise two Set lookups and at most
 * a handful of prefix checks (the prefixes sharing the name's first four characters).
 *
 * This does NOT know about a backend's own custom identity headers (a name not on the lists,
 * such as `X-Acme-Login`): add those to `server.stripHeaders` or `route.stripHeaders`, or give
 * the route a `forwardHeaders` allow-list. It does NOT look at values.
 */
export function classifyHeader(name: string): HeaderClass {
  const known = memo.get(name);
  if (known !== undefined) return known;
  const result = classifyNormal(normalizeHeaderName(name));
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(name, result);
  return result;
}

/** The built-in lists, for documentation and tests. */
export const BUILT_IN_STRIPPED = { routineExact: ROUTINE_EXACT, identityExact: IDENTITY_EXACT, identityPrefixes: IDENTITY_PREFIXES, keepExact: KEEP_EXACT } as const;
