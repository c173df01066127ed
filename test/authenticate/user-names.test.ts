import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createUserNames, homeIssuerOf } from '../../src/authenticate/user-names.js';
import { issuerSchema } from '../../src/config/schema.js';

const entry = (id: string, iss: string) => issuerSchema.parse({ id, issuer: iss, audience: 'api://behalf' });
const home = entry('home', 'https://home.test/');
const homeMcp = entry('home-mcp', 'https://home.test/');
const partner = entry('partner', 'https://partner.test/');
const partnerMcp = entry('partner-mcp', 'https://partner.test/');

describe('how the users of each issuer are named', () => {
  it('the only issuer keeps plain ids', () => {
    assert.equal(createUserNames([home], undefined).prefixOf(home), '');
  });

  it("with a home issuer, other issuers' users are qualified by the first entry with their iss; entries sharing the home iss are home", () => {
    const names = createUserNames([home, homeMcp, partner, partnerMcp], 'home');
    assert.equal(names.prefixOf(home), '');
    assert.equal(names.prefixOf(homeMcp), '');
    assert.equal(names.prefixOf(partner), 'partner:');
    assert.equal(names.prefixOf(partnerMcp), 'partner:', 'one IdP, one name, whichever entry verified the token');
  });

  it('with several issuers and no home, every id is qualified', () => {
    const names = createUserNames([home, partner], undefined);
    assert.equal(names.prefixOf(home), 'home:');
    assert.equal(names.prefixOf(partner), 'partner:');
  });

  it("a home id that starts with another issuer's prefix collides; other colons do not", () => {
    const names = createUserNames([home, partner], 'home');
    assert.equal(names.collides('partner:alice'), true);
    assert.equal(names.collides('auth0|123'), false);
    assert.equal(names.collides('urn:x:alice'), false);
    assert.equal(names.collides('home:alice'), false);
    assert.equal(names.collides(':alice'), false);
  });

  it('the home issuer is directory.issuer, else the only issuer', () => {
    assert.equal(homeIssuerOf({ issuers: [home] }), 'home');
    assert.equal(homeIssuerOf({ issuers: [home, partner] }), undefined);
    assert.equal(homeIssuerOf({ issuers: [home, partner], directory: { issuer: 'partner' } as never }), 'partner');
  });
});
