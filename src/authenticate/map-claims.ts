import type { ClaimPreset, IssuerConfig } from '../config/schema.js';
import type { Identity } from './identity.js';

type Claims = Readonly<Record<string, unknown>>;
type Field = 'id' | 'tenant' | 'email' | 'name' | 'roles' | 'groups' | 'scopes' | 'client';

/**
 * Read a claim by name or dot path. The whole name is tried first, so namespaced claims such as
 * `https://example.com/roles` (Auth0) work; then `a.b.c` walks nested objects. Only own
 * properties are read, so `__proto__` or `constructor` never reach Object.prototype.
 */
export function readClaim(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let node: unknown = claims;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A list claim: an array of strings, or one string. Non-strings are dropped. */
function list(value: unknown, splitSpaces: boolean): string[] {
  if (typeof value === 'string') return splitSpaces ? value.split(' ').filter((s) => s !== '') : value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

function first(claims: Claims, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = str(readClaim(claims, n));
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Auth0 puts roles and groups in namespaced custom claims: `https://<ns>/roles`. */
function namespaced(claims: Claims, suffix: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(claims)) if (k === suffix || k.endsWith(`/${suffix}`)) out.push(...list(v, false));
  return out;
}

type Preset = (c: Claims, issuer: IssuerConfig) => Partial<Record<Field, unknown>>;

const scopesOf = (c: Claims) => [...list(c.scope, true), ...list(c.scp, true)];

/** Presets for the common IdPs. Each returns raw values; `mapClaims` normalises them. */
const PRESETS: Record<ClaimPreset, Preset> = {
  generic: (c) => ({
    id: c.sub,
    email: c.email,
    name: c.name,
    roles: list(c.roles, false),
    groups: list(c.groups, false),
    scopes: scopesOf(c),
    client: first(c, 'azp', 'client_id'),
  }),
  auth0: (c) => ({
    id: c.sub,
    tenant: c.org_id,
    email: first(c, 'email', ...Object.keys(c).filter((k) => k.endsWith('/email'))),
    name: c.name,
    roles: namespaced(c, 'roles'),
    groups: namespaced(c, 'groups'),
    // RBAC in Auth0 puts API permissions in `permissions`; they are what the token may do.
    scopes: [...scopesOf(c), ...list(c.permissions, false)],
    client: first(c, 'azp', 'client_id'),
  }),
  okta: (c) => ({
    // Okta access tokens carry the login in `sub` and the stable user id in `uid`.
    id: first(c, 'uid', 'sub'),
    email: c.email,
    name: c.name,
    roles: list(c.roles, false),
    groups: list(c.groups, false),
    scopes: scopesOf(c),
    client: first(c, 'cid', 'azp', 'client_id'),
  }),
  entra: (c) => ({
    // `sub` is pairwise per application in Entra ID; `oid` is the user's id across the tenant.
    id: first(c, 'oid', 'sub'),
    tenant: c.tid,
    email: first(c, 'email', 'preferred_username', 'upn'),
    name: c.name,
    roles: list(c.roles, false),
    groups: list(c.groups, false),
    scopes: scopesOf(c),
    client: first(c, 'azp', 'appid', 'client_id'),
  }),
  keycloak: (c, issuer) => ({
    id: c.sub,
    email: c.email,
    name: first(c, 'name', 'preferred_username'),
    // Client roles only for the clients this gateway is an audience of: a role named "admin" in
    // some unrelated client must not become an admin role here.
    roles: [
      ...list(readClaim(c, 'realm_access.roles'), false),
      ...issuer.audience.flatMap((aud) => clientRoles(c, aud)),
    ],
    groups: list(c.groups, false),
    scopes: scopesOf(c),
    client: first(c, 'azp', 'client_id'),
  }),
};

function clientRoles(c: Claims, client: string): string[] {
  const access = c.resource_access;
  if (access === null || typeof access !== 'object' || !Object.hasOwn(access, client)) return [];
  const entry = (access as Record<string, unknown>)[client];
  if (entry === null || typeof entry !== 'object' || !Object.hasOwn(entry, 'roles')) return [];
  return list((entry as Record<string, unknown>).roles, false);
}

/**
 * Build the `Identity` from a verified token's claims: the issuer's preset first, then every
 * `claims.map` override (a claim name or dot path; it replaces the preset's value entirely), then
 * the issuer's fixed `tenant` if configured. `scope`/`scp` may be a space-separated string or an
 * array. Returns `undefined` when no non-empty string user id can be found.
 *
 * `prefix` qualifies the user id and a claimed tenant of another issuer's users (`partner:`, see
 * user-names.ts); the token's own id is then kept as `subject`.
 *
 * This does NOT verify anything: call it only with the payload returned by `verifyToken`. It does
 * NOT consult the directory (the resolve stage does) and keeps no claim it does not map.
 */
export function mapClaims(claims: Claims, issuer: IssuerConfig, prefix = ''): Identity | undefined {
  const raw: Partial<Record<Field, unknown>> = PRESETS[issuer.claims.preset](claims, issuer);
  for (const [field, path] of Object.entries(issuer.claims.map) as [Field, string | undefined][]) {
    if (path === undefined) continue;
    const value = readClaim(claims, path);
    raw[field] = field === 'roles' || field === 'groups' || field === 'scopes' ? list(value, field === 'scopes') : value;
  }
  const id = str(raw.id);
  if (id === undefined || typeof claims.iss !== 'string' || typeof claims.exp !== 'number') return undefined;
  const claimedTenant = str(raw.tenant);
  const tenant = issuer.tenant ?? (claimedTenant === undefined ? undefined : prefix + claimedTenant);
  const email = str(raw.email);
  const name = str(raw.name);
  const client = str(raw.client);
  const tokenId = str(claims.jti);
  return {
    id: prefix + id,
    ...(prefix === '' ? {} : { subject: id }),
    issuer: claims.iss,
    issuerId: issuer.id,
    ...(tenant === undefined ? {} : { tenant }),
    ...(email === undefined ? {} : { email }),
    ...(name === undefined ? {} : { name }),
    roles: unique(list(raw.roles, false)),
    groups: unique(list(raw.groups, false)),
    scopes: unique(list(raw.scopes, true)),
    ...(client === undefined ? {} : { client }),
    ...(tokenId === undefined ? {} : { tokenId }),
    ...(typeof claims.iat === 'number' ? { issuedAt: claims.iat } : {}),
    expiresAt: claims.exp,
  };
}
