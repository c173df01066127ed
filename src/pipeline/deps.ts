import type { Logger } from 'pino';
import type { Auditor } from '../audit/auditor.js';
import type { Authenticator } from '../authenticate/index.js';
import type { Policy } from '../authorize/policy.js';
import type { Config } from '../config/schema.js';
import type { AssertionSigner } from '../forward/identity/signed-assertion.js';
import type { Forwarder } from '../forward/proxy.js';
import type { Limiter } from '../limit/limiter.js';
import type { ForwardPlan } from '../forward/stage.js';
import type { Metrics } from '../observe/metrics.js';
import type { Directory } from '../resolve/directory.js';
import type { RouteTable } from '../resolve/route-match.js';

/** What the stages need, built once per gateway and injected (tests build their own). */
export interface PipelineDeps {
  readonly config: Config;
  readonly routes: RouteTable;
  readonly authenticator: Authenticator;
  readonly directory: Directory;
  readonly policy: Policy;
  readonly signer: AssertionSigner;
  readonly forwarder: Forwarder;
  /** Per route id: header rules and assertion audience, compiled at start. */
  readonly forwardPlans: ReadonlyMap<string, ForwardPlan>;
  readonly auditor: Auditor;
  /** The limit stage's engine; absent (tests that build their own deps) means no limits. */
  readonly limiter?: Limiter;
  readonly metrics: Metrics;
  readonly logger: Logger;
}
