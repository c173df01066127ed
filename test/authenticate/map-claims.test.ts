import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapClaims } from '../../src/authenticate/index.js';
import { issuerSchema } from '../../src/config/schema.js';

const base = { iss: 'https://idp.test/', exp: 2_000_000_000, aud: 'api://behalf' };
const issuer = (extra: Record<string, unknown> = {}) => issuerSchema.parse({ id: 'idp', issuer: 'https://idp.test/', audience: 'api://behalf', ...extra });

describe('mapClaims presets', () => {
  it('generic: sub, email, name, roles, groups, scope string, azp', () => {
    const id = mapClaims({ ...base, sub: 'alice', email: 'a@x.test', name: 'Alice', roles: ['manager'], groups: ['platform'], scope: 'a  b a', azp: 'chatgpt', jti: 'j1' }, issuer());
    assert.deepEqual(id, {
      id: 'alice', issuer: 'https://idp.test/', issuerId: 'idp', email: 'a@x.test', name: 'Alice',
      roles: ['manager'], groups: ['platform'], scopes: ['a', 'b'], client: 'chatgpt', tokenId: 'j1', expiresAt: 2_000_000_000,
    });
  });

  it('generic: scp array and client_id when there is no azp', () => {
    const id = mapClaims({ ...base, sub: 'alice', scp: ['x', 'y'], client_id: 'agent' }, issuer());
    assert.deepEqual(id?.scopes, ['x', 'y']);
    assert.equal(id?.client, 'agent');
  });

  it('auth0: namespaced roles and groups, permissions as scopes, org_id as tenant', () => {
    const id = mapClaims(
      { ...base, sub: 'auth0|123', 'https://behalf.test/roles': ['manager'], 'https://behalf.test/groups': 'platform', scope: 'openid', permissions: ['reviews:read'], org_id: 'org_1', azp: 'cli' },
      issuer({ claims: { preset: 'auth0' } }),
    );
    assert.equal(id?.id, 'auth0|123');
    assert.deepEqual(id?.roles, ['manager']);
    assert.deepEqual(id?.groups, ['platform']);
    assert.deepEqual(id?.scopes, ['openid', 'reviews:read']);
    assert.equal(id?.tenant, 'org_1');
  });

  it('okta: uid as id, scp array, cid as client', () => {
    const id = mapClaims({ ...base, sub: 'alice@x.test', uid: '00u1', scp: ['openid', 'reviews:read'], groups: ['Everyone'], cid: '0oa9' }, issuer({ claims: { preset: 'okta' } }));
    assert.equal(id?.id, '00u1');
    assert.deepEqual(id?.scopes, ['openid', 'reviews:read']);
    assert.equal(id?.client, '0oa9');
    assert.deepEqual(id?.groups, ['Everyone']);
  });

  it('entra: oid as id, tid as tenant, scp string, appid, preferred_username as email', () => {
    const id = mapClaims(
      { ...base, sub: 'pairwise', oid: 'f00d', tid: 'contoso', scp: 'Reviews.Read User.Read', roles: ['Reviewer'], appid: 'app-1', preferred_username: 'alice@contoso.test' },
      issuer({ claims: { preset: 'entra' } }),
    );
    assert.equal(id?.id, 'f00d');
    assert.equal(id?.tenant, 'contoso');
    assert.deepEqual(id?.scopes, ['Reviews.Read', 'User.Read']);
    assert.equal(id?.client, 'app-1');
    assert.equal(id?.email, 'alice@contoso.test');
    assert.deepEqual(id?.roles, ['Reviewer']);
  });

  it('keycloak: realm roles plus client roles of this audience only', () => {
    const id = mapClaims(
      {
        ...base, sub: 'kc-1', preferred_username: 'alice', scope: 'profile email',
        realm_access: { roles: ['employee'] },
        resource_access: { 'api://behalf': { roles: ['manager'] }, 'other-app': { roles: ['admin'] } },
        azp: 'mcp-client',
      },
      issuer({ claims: { preset: 'keycloak' } }),
    );
    assert.deepEqual(id?.roles, ['employee', 'manager']);
    assert.ok(!id?.roles.includes('admin'), "another client's admin role leaked in");
    assert.equal(id?.name, 'alice');
    assert.equal(id?.client, 'mcp-client');
  });
});

describe('mapClaims overrides', () => {
  it('claims.map replaces a preset field with a claim name or dot path', () => {
    const id = mapClaims(
      { ...base, sub: 'alice', employee: { number: 'E42', teams: ['t1', 't2'] }, 'https://ns.test/tenant': 'acme' },
      issuer({ claims: { preset: 'generic', map: { id: 'employee.number', groups: 'employee.teams', tenant: 'https://ns.test/tenant' } } }),
    );
    assert.equal(id?.id, 'E42');
    assert.deepEqual(id?.groups, ['t1', 't2']);
    assert.equal(id?.tenant, 'acme');
  });

  it('a fixed tenant from config wins over any claim', () => {
    const id = mapClaims({ ...base, oid: 'u', tid: 'from-token' }, issuer({ claims: { preset: 'entra' }, tenant: 'fixed' }));
    assert.equal(id?.tenant, 'fixed');
  });

  it("another issuer's user: id and claimed tenant qualified with its prefix, the token's own id kept as subject; a fixed tenant is the operator's and kept", () => {
    const id = mapClaims({ ...base, oid: 'alice', tid: 'acme' }, issuer({ claims: { preset: 'entra' } }), 'partner:');
    assert.equal(id?.id, 'partner:alice');
    assert.equal(id?.subject, 'alice');
    assert.equal(id?.tenant, 'partner:acme');
    assert.equal(mapClaims({ ...base, oid: 'alice', tid: 'acme' }, issuer({ claims: { preset: 'entra' }, tenant: 'acme' }), 'partner:')?.tenant, 'acme');
    assert.equal(mapClaims({ ...base, sub: 'alice' }, issuer())?.subject, undefined, 'no subject when the id is the token’s own');
  });

  it('refuses a token without a usable user id', () => {
    assert.equal(mapClaims({ ...base }, issuer()), undefined);
    assert.equal(mapClaims({ ...base, sub: '' }, issuer()), undefined);
    assert.equal(mapClaims({ ...base, sub: 42 }, issuer()), undefined);
    assert.equal(mapClaims({ ...base, sub: ['alice'] }, issuer()), undefined);
  });

  it('dot paths never read inherited properties', () => {
    const id = mapClaims({ ...base, sub: 'alice' }, issuer({ claims: { preset: 'generic', map: { name: 'constructor.name', email: '__proto__.toString' } } }));
    assert.equal(id?.name, undefined);
    assert.equal(id?.email, undefined);
  });

  it('drops non-string members of list claims', () => {
    const id = mapClaims({ ...base, sub: 'alice', roles: ['ok', 1, null, { a: 1 }, ''] }, issuer());
    assert.deepEqual(id?.roles, ['ok']);
  });
});
