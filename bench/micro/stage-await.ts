// What awaiting costs on the pipeline's path: the authenticate stage on a cached token as the
// runner calls it (awaited only when it returns a promise), and the runner's loop over eight
// stages of which three answer synchronously (approve, authorize, screen-out), awaiting every
// result against awaiting only promises.
//   node --import tsx bench/micro/stage-await.ts [--root <checkout>] [--ms N]
import { startDevIdp } from '../../src/dev-idp/index.js';
import type * as Authenticate from '../../src/authenticate/index.js';
import type * as AuthStage from '../../src/authenticate/stage.js';
import type * as Schema from '../../src/config/schema.js';
import { load, measure, ROOT } from './measure-src.js';

const { createAuthenticator } = await load<typeof Authenticate>('authenticate/index.ts');
const { authenticateStage } = await load<typeof AuthStage>('authenticate/stage.ts');
const { issuerSchema } = await load<typeof Schema>('config/schema.ts');

const audience = 'http://127.0.0.1:1';
const idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@example.test' }], audience, defaultScopes: ['reviews:read'], log: () => {} });
try {
  const token = await idp.mint('alice', { audience });
  const authenticator = createAuthenticator({
    issuers: [issuerSchema.parse({ id: 'idp', issuer: idp.issuer, audience, requireType: 'at+jwt' })],
    maxTokenBytes: 16_384,
  });
  const req = {
    headers: { host: '127.0.0.1:1', authorization: `Bearer ${token}` },
    rawHeaders: ['host', '127.0.0.1:1', 'authorization', `Bearer ${token}`],
    url: '/api/hr/reviews/bob',
  };
  const ctx = { req } as unknown as Parameters<typeof authenticateStage>[0];
  const deps = { authenticator } as unknown as Parameters<typeof authenticateStage>[1];
  const door = { credentials: () => undefined } as unknown as Parameters<typeof authenticateStage>[2];
  await authenticateStage(ctx, deps, door);
  console.log(ROOT);
  await measure('authenticateStage (cache hit) as the runner calls it', async () => {
    const r = authenticateStage(ctx, deps, door);
    return r instanceof Promise ? await r : r;
  }, { async: true });

  // The loop alone, with stages that do nothing: 5 async, 3 sync, in the pipeline's order.
  const asyncStage = async () => undefined;
  const syncStage = () => undefined;
  const stages = [asyncStage, asyncStage, asyncStage, syncStage, syncStage, asyncStage, asyncStage, syncStage];
  await measure('runner loop, every result awaited', async () => {
    for (const s of stages) if ((await s()) !== undefined) break;
  }, { async: true });
  await measure('runner loop, only promises awaited', async () => {
    for (const s of stages) {
      const r = s();
      if ((r instanceof Promise ? await r : r) !== undefined) break;
    }
  }, { async: true });
} finally {
  await idp.close();
}
