import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { BUILT_IN_STRIPPED, classifyHeader } from '../../src/forward/identity/stripped-headers.js';

// docs/security.md lists the built-in identity names and prefixes; this keeps it in step with the
// code, and keeps the list from catching ordinary headers.

const docs = await readFile(new URL('../../docs/security.md', import.meta.url), 'utf8');
const section = docs.slice(docs.indexOf('## Identity headers'));

describe('the built-in identity list', () => {
  it('docs/security.md names every exact name and prefix of the list', () => {
    const missing = [...BUILT_IN_STRIPPED.identityExact, ...BUILT_IN_STRIPPED.identityPrefixes].filter(
      (name) => !section.includes(`\`${name}\``) && !section.includes(`\`${name}*\``),
    );
    assert.deepEqual(missing, [], 'listed in stripped-headers.ts but not in docs/security.md');
  });

  it('classifies by normal form: case and "_" for "-" do not matter', () => {
    for (const [a, b] of [['X_User_Id', 'x-user-id'], ['Remote_User', 'remote-user'], ['OIDC_CLAIM_email', 'oidc-claim-email'], ['X-Remote_User', 'x-remote-user'], ['USER_AGENT', 'user-agent'], ['Content_Length', 'content-length']]) {
      assert.equal(classifyHeader(a!), classifyHeader(b!), `${a} and ${b}`);
    }
    assert.equal(classifyHeader('X_User_Id'), 'identity');
    assert.equal(classifyHeader('user_agent'), 'keep');
  });

  it('keeps ordinary headers whose names share a prefix with an identity family', () => {
    for (const name of ['user-agent', 'x-client-version', 'x-client-name', 'x-request-start', 'x-requested-with', 'x-amzn-trace-id', 'accept', 'x-api-version', 'x-csrf-token', 'x-act', 'x-organ-donor', 'tenants', 'users', 'remotely', 'x-jw']) {
      assert.equal(classifyHeader(name), 'keep', name);
    }
  });
});
