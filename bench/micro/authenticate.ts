// The authenticate stage on a cached token, as the benchmark's target (c) runs it: the dev IdP's
// RS256 at+jwt (about 900 characters), verified once, then every call served from the token cache.
//   node --import tsx bench/micro/authenticate.ts [--root <checkout>] [--ms N]
import { startDevIdp } from '../../src/dev-idp/index.js';
import type * as Authenticate from '../../src/authenticate/index.js';
import type * as Extract from '../../src/authenticate/extract-token.js';
import type * as Cache from '../../src/authenticate/token-cache.js';
import type * as Schema from '../../src/config/schema.js';
import { load, measure, ROOT } from './measure-src.js';

const { createAuthenticator } = await load<typeof Authenticate>('authenticate/index.ts');
const { extractBearerToken } = await load<typeof Extract>('authenticate/extract-token.ts');
const { tokenKey } = await load<typeof Cache>('authenticate/token-cache.ts');
const { issuerSchema } = await load<typeof Schema>('config/schema.ts');

const audience = 'http://127.0.0.1:1';
const idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@example.test' }], audience, defaultScopes: ['reviews:read'], log: () => {} });
try {
  const token = await idp.mint('alice', { audience });
  const auth = createAuthenticator({
    issuers: [issuerSchema.parse({ id: 'idp', issuer: idp.issuer, audience, requireType: 'at+jwt' })],
    maxTokenBytes: 16_384,
  });
  const req = {
    headers: { host: '127.0.0.1:1', authorization: `Bearer ${token}` },
    rawHeaders: ['host', '127.0.0.1:1', 'authorization', `Bearer ${token}`],
    url: '/api/hr/reviews/bob',
  };
  const first = await auth.authenticate(req);
  if (!first.ok) throw new Error(`token refused: ${first.decision.reason}`);
  console.log(`${ROOT}: token ${token.length} characters`);
  await measure('extractBearerToken', () => extractBearerToken(req, 16_384));
  await measure('tokenKey', () => tokenKey(token));
  await measure('authenticate (cache hit, awaited)', () => auth.authenticate(req), { async: true });
} finally {
  await idp.close();
}
