import type { Logger } from 'pino';
import type { Approvals } from '../approve/approvals.js';
import type { Auditor } from '../audit/auditor.js';
import type { Authenticator } from '../authenticate/index.js';
import type { Policy } from '../authorize/policy.js';
import type { Config } from '../config/schema.js';
import type { ForwardPlan } from '../forward/plans.js';
import type { Forwarder } from '../forward/proxy.js';
import type { AssertionSigner } from '../forward/identity/signed-assertion.js';
import type { Limiter } from '../limit/limiter.js';
import type { UpstreamFeatures } from '../mcp-upstream/feature-index.js';
import type { Metrics } from '../observe/metrics.js';
import type { Directory } from '../resolve/directory.js';
import type { ToolCatalog } from '../tools/types.js';

/**
 * Checks a tool's arguments against its input schema. `message` names the offending field and
 * never echoes a value.
 */
export type ArgumentValidator = (name: string, args: Readonly<Record<string, unknown>>) => { ok: true } | { ok: false; message: string };

/** The tools the gateway serves, and their argument checks. */
export interface ServedTools {
  readonly catalog: ToolCatalog;
  readonly validateArguments: ArgumentValidator;
}

/**
 * What the stages need, built once per gateway and injected (tests build their own). Door-neutral:
 * what only a door needs (sessions, streams, the route table) the door keeps to itself.
 */
export interface PipelineDeps {
  readonly config: Config;
  readonly authenticator: Authenticator;
  readonly directory: Directory;
  readonly policy: Policy;
  readonly signer: AssertionSigner;
  readonly forwarder: Forwarder;
  /** Per route id: header rules and assertion audience, compiled at start. */
  readonly forwardPlans: ReadonlyMap<string, ForwardPlan>;
  readonly auditor: Auditor;
  /** Human approval (docs/approvals.md); absent (tests that build their own deps) means no rule holds a request. */
  readonly approvals?: Approvals;
  /** The limit stage's engine; absent (tests that build their own deps) means no limits. */
  readonly limiter?: Limiter;
  /** The tools served (config tools and upstream MCP servers' tools); absent when none are. */
  readonly tools?: ServedTools;
  /** What upstream MCP servers serve besides tools (resources, templates, prompts); absent without upstreams. */
  readonly features?: () => UpstreamFeatures;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Wall clock, ms since epoch (the audit record's `time`). */
  readonly now: () => number;
}
