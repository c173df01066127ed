import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerChallenge, challengeErrorFor } from '../../src/authenticate/index.js';

const RM = 'https://gw.example/.well-known/oauth-protected-resource/mcp';

describe('bearerChallenge', () => {
  it('names only the resource metadata when no token was sent', () => {
    assert.equal(bearerChallenge({ resourceMetadata: RM }), `Bearer resource_metadata="${RM}"`);
  });

  it('adds the error, description and scopes as quoted strings', () => {
    assert.equal(
      bearerChallenge({ resourceMetadata: RM, error: 'insufficient_scope', description: 'needs more', scopes: ['reviews:read', 'reviews:write'] }),
      `Bearer resource_metadata="${RM}", error="insufficient_scope", error_description="needs more", scope="reviews:read reviews:write"`,
    );
  });

  it('cannot be used to inject parameters or header lines', () => {
    const v = bearerChallenge({ resourceMetadata: `${RM}"\r\nSet-Cookie: x=1`, description: 'a"b\\c\r\nX: y', scopes: ['a"b', 'c d'] });
    assert.ok(!/[\r\n]/.test(v));
    // Every quote inside a value is escaped, so the parameter list stays as built.
    const params = [...v.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
    assert.deepEqual(params, ['resource_metadata', 'error_description', 'scope']);
    assert.match(v, /error_description="abcX: y"/);
  });
});

describe('challengeErrorFor', () => {
  it('maps each authentication reason to the RFC 6750 error code', () => {
    assert.equal(challengeErrorFor('token-missing'), undefined);
    for (const r of ['token-malformed', 'token-in-query', 'token-duplicate', 'token-too-large'] as const) {
      assert.equal(challengeErrorFor(r), 'invalid_request', r);
    }
    for (const r of ['token-invalid', 'token-expired', 'token-not-yet-valid', 'issuer-unknown', 'issuer-not-allowed', 'audience-mismatch', 'token-type-invalid'] as const) {
      assert.equal(challengeErrorFor(r), 'invalid_token', r);
    }
    assert.equal(challengeErrorFor('idp-unavailable'), undefined);
    assert.equal(challengeErrorFor('no-matching-rule'), undefined);
  });
});
