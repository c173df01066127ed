import { after, before } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from '../e2e/harness.js';

/** A gateway in front of a recording backend, and a token of `user` from a dev IdP it trusts. */
export interface IntegrityEnv {
  readonly idp: DevIdp;
  readonly backend: RecordingBackend;
  readonly gw: TestGateway;
  readonly token: string;
}

/**
 * Starts, before the file's tests, a dev IdP for `user`, a recording backend and a gateway whose
 * routes and policies `configure(backendUrl)` gives; stops them after. Read the fields inside tests only.
 */
export function useIntegrityEnv(user: string, configure: (backendUrl: string) => Pick<ConfigInput, 'routes' | 'policies'>): IntegrityEnv {
  const env = {} as { idp: DevIdp; backend: RecordingBackend; gw: TestGateway; token: string };
  before(async () => {
    env.backend = await startRecordingBackend();
    env.idp = await startDevIdp({ users: [{ id: user, name: user, email: `${user}@example.test` }], audience: 'http://gateway.test', log: () => {} });
    env.token = await env.idp.mint(user);
    const port = await freePort();
    env.gw = await startTestGateway({
      server: { port, publicUrl: `http://127.0.0.1:${port}` },
      issuers: [{ id: 'idp', issuer: env.idp.issuer, audience: 'http://gateway.test' }],
      ...configure(env.backend.url),
    });
  });
  after(async () => {
    await env.gw?.close();
    await env.idp?.close();
    await env.backend?.close();
  });
  return env;
}
