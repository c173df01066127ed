import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractBearerToken } from '../../src/authenticate/index.js';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln';

/** Build the request the way Node would present it: `headers` keeps the first Authorization only. */
function req(authorizations: string[], url = '/api/x') {
  const rawHeaders = authorizations.flatMap((a) => ['Authorization', a]);
  return { headers: authorizations.length > 0 ? { authorization: authorizations[0] } : {}, rawHeaders, url };
}
function outcome(r: ReturnType<typeof extractBearerToken>): string {
  return r.ok ? `token:${r.token}` : `${r.decision.status} ${r.decision.reason}`;
}

describe('extractBearerToken', () => {
  const cases: [string, ReturnType<typeof req>, string][] = [
    ['a Bearer token', req([`Bearer ${TOKEN}`]), `token:${TOKEN}`],
    ['a lower-case scheme', req([`bearer ${TOKEN}`]), `token:${TOKEN}`],
    ['an upper-case scheme', req([`BEARER ${TOKEN}`]), `token:${TOKEN}`],
    ['several spaces after the scheme', req([`Bearer   ${TOKEN}`]), `token:${TOKEN}`],
    ['no Authorization header', req([]), '401 token-missing'],
    ['an empty Authorization header', req(['']), '401 token-missing'],
    ['a Basic header', req(['Basic YWxpY2U6cHc=']), '401 token-missing'],
    ['a DPoP header (not supported)', req([`DPoP ${TOKEN}`]), '401 token-missing'],
    ['Bearer without a token', req(['Bearer']), '401 token-malformed'],
    ['Bearer and only spaces', req(['Bearer   ']), '401 token-malformed'],
    ['two tokens in one header', req([`Bearer ${TOKEN} ${TOKEN}`]), '401 token-malformed'],
    ['a comma-joined pair', req([`Bearer ${TOKEN}, Bearer ${TOKEN}`]), '401 token-malformed'],
    ['a tab instead of a space', req([`Bearer\t${TOKEN}`]), '401 token-malformed'],
    ['characters outside b64token', req(['Bearer abc<script>']), '401 token-malformed'],
    ['two Authorization headers', req([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]), '401 token-duplicate'],
    ['two headers, the second one Basic', req([`Bearer ${TOKEN}`, 'Basic eA==']), '401 token-duplicate'],
    ['access_token in the query', req([], `/api/x?access_token=${TOKEN}`), '401 token-in-query'],
    ['access_token in the query and a header', req([`Bearer ${TOKEN}`], `/api/x?a=1&access_token=${TOKEN}`), '401 token-in-query'],
    ['a percent-encoded access_token name', req([`Bearer ${TOKEN}`], `/api/x?access%5Ftoken=${TOKEN}`), '401 token-in-query'],
    ['an empty access_token parameter', req([`Bearer ${TOKEN}`], '/api/x?access_token='), '401 token-in-query'],
    ['a parameter merely containing the name', req([`Bearer ${TOKEN}`], '/api/x?my_access_token_hint=1'), `token:${TOKEN}`],
    ['access_token only in the fragment', req([`Bearer ${TOKEN}`], '/api/x#access_token=1'), `token:${TOKEN}`],
    // The one-scan path for `Bearer <token>` and the general path must agree on every edge.
    ['a mixed-case scheme', req([`bEaReR ${TOKEN}`]), `token:${TOKEN}`],
    ['a token with padding', req(['Bearer abc+/~.-_==']), 'token:abc+/~.-_=='],
    ['a token then a space', req([`Bearer ${TOKEN} `]), `token:${TOKEN}`],
    ['padding only', req(['Bearer ==']), '401 token-malformed'],
    ['padding inside the token', req(['Bearer ab=cd']), '401 token-malformed'],
    ['a scheme that only starts with Bearer', req([`Bearerx ${TOKEN}`]), '401 token-missing'],
    ['a second Authorization header in upper case', { ...req([`Bearer ${TOKEN}`]), rawHeaders: ['Authorization', `Bearer ${TOKEN}`, 'AUTHORIZATION', 'Basic eA=='] }, '401 token-duplicate'],
  ];
  for (const [name, r, expected] of cases) {
    it(`${name} -> ${expected.startsWith('token:') ? 'token' : expected}`, () => {
      assert.equal(outcome(extractBearerToken(r, 16_384)), expected);
    });
  }

  it('rejects a token over maxTokenBytes before looking at it, and accepts one exactly at the bound', () => {
    assert.equal(outcome(extractBearerToken(req([`Bearer ${'a'.repeat(300)}`]), 256)), '401 token-too-large');
    assert.equal(outcome(extractBearerToken(req([`Bearer ${'a'.repeat(256)}`]), 256)), `token:${'a'.repeat(256)}`);
    // A huge header of garbage is refused by size, not parsed.
    assert.equal(outcome(extractBearerToken(req([`X ${' '.repeat(100_000)}`]), 256)), '401 token-too-large');
  });

  it('gives the client a generic message and never echoes the token in the detail', () => {
    const r = extractBearerToken(req([`Bearer ${TOKEN} extra`]), 16_384);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.decision.message, 'a valid bearer access token is required');
      assert.ok(!(r.decision.detail ?? '').includes(TOKEN));
      assert.equal(r.decision.headers, undefined);
    }
  });
});
