import { BehalfError } from './errors.js';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { pino, type Logger } from 'pino';
import { createAuditor, openAuditStore, type Auditor } from './audit/auditor.js';
import { openAuditSinks, type AuditSinks } from './audit/sinks.js';
import { checkpointerFromConfig } from './audit/checkpointer.js';
import type { ApprovalStore, AuditStore, LimitStore, RevocationStore } from './stores/types.js';
import { openRevocationStore } from './authenticate/open-revocation-store.js';
import { createRevocationList, type RevocationList } from './authenticate/revocation-list.js';
import { createAdminHandler } from './doors/admin/admin-api.js';
import { createApprovals, type Approvals } from './approve/approvals.js';
import { createAuthenticator, type Authenticator } from './authenticate/index.js';
import { homeIssuerOf } from './authenticate/user-names.js';
import { compilePolicy, type Policy } from './authorize/policy.js';
import type { LoadedConfig } from './config/load.js';
import { createHttpServer, closeServer, listen } from './doors/http/server.js';
import { createMcpDoor, mcpConfigOf, mcpScopes, type McpDoorOptions } from './doors/mcp/door.js';
import { createHttpHandler } from './doors/http/door.js';
import { createRouter } from './doors/http/router.js';
import { createRefusalRecorder } from './doors/http/parser-refusals.js';
import { openConnections } from './doors/http/connection-limits.js';
import { createConnectionRefusalRecorder } from './doors/http/connection-refusals.js';
import { scheduleKeyRotation } from './forward/identity/key-rotation.js';
import { createReadiness, type ReadyStatus } from './observe/readiness.js';
import type { ForwardPlan } from './forward/plans.js';
import type { AssertionSigner } from './forward/identity/signed-assertion.js';
import type { McpConfig } from './config/schema.js';
import type { ArgumentValidator, ServedTools } from './pipeline/deps.js';
import { startToolSources } from './tools/sources.js';
import type { Upstreams } from './mcp-upstream/upstreams.js';
import { createWellKnownHandler } from './doors/well-known-handler.js';
import { createAssertionSigner } from './forward/identity/signed-assertion.js';
import { loadSigningKeys, type SigningKeys } from './forward/identity/signing-keys.js';
import { createForwarder, type Forwarder } from './forward/proxy.js';
import { compileForwardPlans } from './forward/plans.js';
import { createLimiter, type Limiter } from './limit/limiter.js';
import { openLimitStore } from './limit/open-store.js';
import { createMetrics, type Metrics } from './observe/metrics.js';
import { errorSummary } from './lib/error-summary.js';
import type { PipelineDeps } from './pipeline/deps.js';
import { createDirectory, type Directory } from './resolve/directory.js';
import { compileRoutes } from './resolve/route-match.js';
import type { ToolCatalog } from './tools/types.js';
import { compileArgumentValidators } from './screen/validate-arguments.js';
import { DEFAULTS } from './config/defaults.js';

/** Injectable edges: tests pass their own clock or logger; nothing here reads `process.env`. */
export interface GatewayOptions {
  logger?: Logger;
  /** For discovery, JWKS and the HTTP directory source (default: global fetch). */
  fetch?: typeof globalThis.fetch;
  /** Wall clock, ms since epoch. */
  now?: () => number;
  /** Override the configured listen port (0 = pick a free one; tests). */
  port?: number;
  /** Use this audit store instead of opening the configured one (tests, embedding); `audit.sinks` get copies only from a store the gateway opens. */
  auditStore?: AuditStore;
  /**
   * Serve these tools on the MCP endpoint instead of the configured tools and upstreams (tests,
   * embedding); the endpoint is then mounted even without `mcp`, `tools` or `upstreams`.
   */
  toolCatalog?: ToolCatalog;
  /** Use this limit store instead of opening `limits.store` (tests, embedding); the gateway closes it. */
  limitStore?: LimitStore;
  /** Use this revocation store instead of opening `revocation.store` (tests, embedding); the gateway closes it. */
  revocationStore?: RevocationStore;
  /** Use this approval store instead of opening `approvals.store` (tests, embedding); the gateway closes it. */
  approvalStore?: ApprovalStore;
  /** Override `admin.port` (0 = pick a free one; tests). */
  adminPort?: number;
}

export type { ReadyStatus } from './observe/readiness.js';

/** A running gateway. */
export interface Gateway {
  /** The bound address, e.g. `http://127.0.0.1:8080` (not the public URL). */
  readonly address: string;
  readonly server: Server;
  readonly metrics: Metrics;
  readonly signingKeys: SigningKeys;
  /** The admin API's bound address, when `admin` is configured. */
  readonly adminAddress?: string;
  /** Revocations as this instance enforces them. */
  readonly revocations: RevocationList;
  ready(): Promise<ReadyStatus>;
  close(): Promise<void>;
}

/**
 * Builds every component from a validated config and starts listening. Fails (throws a coded
 * `BehalfError`) before listening if anything it needs at start cannot be had: signing keys, the
 * directory, the audit store, a policy condition that does not compile.
 */
export async function startGateway(loaded: LoadedConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const { config, baseDir } = loaded;
  if (loaded.unset !== undefined && loaded.unset.length > 0) {
    // Loaded for a read-only command: some values are placeholders (unset.invalid, ...).
    throw new BehalfError('config-invalid', `environment variable(s) not set: ${loaded.unset.map((v) => v.name).join(', ')}; load the config with every variable to run the gateway`);
  }
  const logger = opts.logger ?? pino({ level: config.log.level, base: { service: 'behalf' } });
  const closers: (() => Promise<void>)[] = [];
  try {
    const metrics = createMetrics();
    const policy: Policy = compilePolicy(config.policies);
    const directory: Directory = createDirectory(config.directory, { baseDir, logger, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
    await directory.start();
    closers.push(() => directory.close());
    const signingKeys = await loadSigningKeys(config.signing, { baseDir, ...(opts.now ? { now: opts.now } : {}) });
    const signer = createAssertionSigner(signingKeys, { issuer: config.server.publicUrl, batch: config.signing.batch, ...(opts.now ? { now: opts.now } : {}) });
    if (config.signing.rotateAfterDays > 0) {
      const stop = scheduleKeyRotation(signingKeys, logger);
      closers.push(async () => stop());
    }
    const sinks = config.audit.sinks.length === 0 ? undefined : await openAuditSinks(config.audit.sinks, { logger });
    if (sinks !== undefined) {
      // Closed after the trail (closers run in reverse): the last records reach the sinks, then they drain.
      closers.push(() => sinks.close());
      watchSinks(sinks, metrics);
    }
    const store = opts.auditStore ?? (await openAuditStore(config.audit, { baseDir, logger, ...(opts.now ? { now: opts.now } : {}), ...(sinks !== undefined ? { onWritten: sinks.onWritten } : {}) }));
    const checkpointer = checkpointerFromConfig(store, signingKeys, config.audit.checkpoints, { logger, ...(opts.now ? { now: opts.now } : {}) });
    const auditor: Auditor = createAuditor(store, {
      logger,
      ...(checkpointer ? { checkpointer } : {}),
      onFailure: () => {
        metrics.auditFailures.inc();
        metrics.auditUnhealthy.set(1);
      },
      onRecovery: () => metrics.auditUnhealthy.set(0),
    });
    closers.push(() => auditor.close());
    const revocationStore = opts.revocationStore ?? (await openRevocationStore(config.revocation, { logger, baseDir, ...(opts.now ? { now: opts.now } : {}) }));
    const revocations = createRevocationList(revocationStore, {
      config: config.revocation,
      logger,
      ...(opts.now ? { now: opts.now } : {}),
      hooks: {
        onStoreError: () => metrics.revocationStoreErrors.inc(),
        onStale: (stale) => metrics.revocationStale.set(stale ? 1 : 0),
      },
    });
    closers.push(() => revocations.close());
    await revocations.start();
    if (checkpointer !== undefined) {
      // The checkpointer counts; the metric catches up at scrape time.
      let seen = { signed: 0, failed: 0 };
      metrics.beforeScrape.push(() => {
        const now = { ...checkpointer.stats };
        metrics.auditCheckpoints.inc({ outcome: 'signed' }, now.signed - seen.signed);
        metrics.auditCheckpoints.inc({ outcome: 'failed' }, now.failed - seen.failed);
        seen = now;
      });
    }
    let counted = { batches: 0, assertions: 0 };
    metrics.beforeScrape.push(() => {
      // The signer counts on the hot path without touching prom-client; the metrics catch up at scrape time.
      const now = signer.batchStats();
      metrics.assertionBatches.inc(now.batches - counted.batches);
      metrics.assertionsBatched.inc(now.assertions - counted.assertions);
      counted = now;
    });
    metrics.beforeScrape.push(() => {
      metrics.revocations.set(revocations.size);
      const spool = store.status?.();
      if (spool !== undefined) {
        metrics.auditSpoolRecords.set(spool.spooledRecords);
        metrics.auditSpoolBytes.set(spool.spooledBytes);
      }
    });
    const authenticator: Authenticator = createAuthenticator({
      revocations,
      issuers: config.issuers,
      homeIssuer: homeIssuerOf(config),
      onRefetchLimited: (issuer) => metrics.jwksRefetchLimited.inc({ issuer }),
      maxTokenBytes: config.server.maxTokenBytes,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    const forwarder: Forwarder = createForwarder();
    closers.push(() => forwarder.close());
    const limitStore = opts.limitStore ?? (await openLimitStore(config.limits, { logger }));
    closers.push(() => limitStore.close());
    const limiter: Limiter = createLimiter(config.limits, limitStore, { metrics, logger, ...(opts.now ? { now: opts.now } : {}) });

    const approvals: Approvals = createApprovals(config, { logger, metrics, ...(opts.approvalStore === undefined ? {} : { store: opts.approvalStore }) });
    closers.push(() => approvals.close());

    const forwardPlans = compileForwardPlans(config);
    const onCircuit = (upstream: string, open: boolean) => {
      metrics.upstreamCircuitOpen.set({ upstream }, open ? 1 : 0);
      if (open) metrics.upstreamCircuitOpens.inc({ upstream });
    };
    const served = await serveTools(loaded, { signer, forwardPlans, auditor, logger, onCircuit }, opts, closers);
    // Every upstream's series exists from the start, so an alert on it sees 0 before the first opening.
    if (served?.upstreams !== undefined) for (const u of config.upstreams) metrics.upstreamCircuitOpen.set({ upstream: u.id }, 0);
    const deps: PipelineDeps = {
      config,
      authenticator,
      directory,
      policy,
      signer,
      forwarder,
      forwardPlans,
      auditor,
      limiter,
      approvals,
      ...(served === undefined ? {} : { tools: served.tools }),
      ...(served?.upstreams === undefined ? {} : { features: featuresOf(served.upstreams) }),
      metrics,
      logger,
      now: opts.now ?? Date.now,
    };
    const mcpDoor = served === undefined ? undefined : createMcpDoor({ deps, mcp: served.mcp, ...served.door });
    const ready = createReadiness({ config, authenticator, auditor, auditStore: store, revocations, limiter, limitStore, approvals, ...(sinks !== undefined ? { auditSinks: sinks } : {}) });
    const wellKnown = createWellKnownHandler({
      config,
      policy,
      signingKeys,
      metrics,
      ready,
      ...(mcpDoor === undefined ? {} : { extraResources: new Map([[mcpDoor.path, mcpScopes(config)]]) }),
    });
    const handler = createRouter([wellKnown, mcpDoor], createHttpHandler(deps, compileRoutes(config.routes)));
    const connectionRefusals = createConnectionRefusalRecorder({ auditor, metrics, logger, now: deps.now, windowMs: DEFAULTS.connectionRefusalAuditMs });
    closers.push(async () => connectionRefusals.flush());
    const server = createHttpServer(
      handler,
      {
        headersTimeoutMs: config.server.headersTimeoutMs,
        requestTimeoutMs: config.server.requestTimeoutMs,
        keepAliveTimeoutMs: DEFAULTS.clientKeepAliveMs,
        maxHeaderBytes: config.server.maxHeaderBytes,
        maxConnections: config.server.maxConnections,
        maxConnectionsPerAddress: config.server.maxConnectionsPerAddress,
      },
      logger,
      { onRefused: createRefusalRecorder({ auditor, metrics, logger, now: deps.now }), onConnectionRefused: connectionRefusals.refused },
    );
    metrics.beforeScrape.push(() => metrics.connectionsOpen.set(openConnections(server)));
    const address = await listen(server, config.server.host, opts.port ?? config.server.port);
    closers.push(() => closeServer(server, DEFAULTS.closeGraceMs));
    let adminAddress: string | undefined;
    if (config.admin !== undefined) {
      const adminServer = createHttpServer(
        createAdminHandler({ admin: config.admin, revocation: config.revocation, revocations, auditor, logger, approvals, authenticator, ...(opts.now ? { now: opts.now } : {}) }),
        { headersTimeoutMs: Math.min(config.server.headersTimeoutMs, DEFAULTS.adminRequestTimeoutMs), requestTimeoutMs: DEFAULTS.adminRequestTimeoutMs, keepAliveTimeoutMs: DEFAULTS.clientKeepAliveMs },
        logger,
      );
      adminAddress = await listen(adminServer, config.admin.host, opts.adminPort ?? config.admin.port);
      closers.push(() => closeServer(adminServer, DEFAULTS.adminCloseGraceMs));
      logger.info({ address: adminAddress }, 'behalf admin API listening');
    }
    logger.info(
      { address, publicUrl: config.server.publicUrl, routes: config.routes.length, policies: config.policies.length, ...(mcpDoor === undefined ? {} : { mcp: mcpDoor.resourceUrl }) },
      'behalf listening',
    );
    // Fetch IdP keys in the background so the first request does not pay for it.
    void authenticator.warm().then((results) => {
      for (const r of results) if (!r.ok) logger.warn({ issuer: r.issuerId, error: r.error }, 'identity provider keys not available yet');
    });
    return {
      address,
      server,
      metrics,
      signingKeys,
      ...(adminAddress === undefined ? {} : { adminAddress }),
      revocations,
      ready,
      close: () => closeAll(closers),
    };
  } catch (err) {
    await closeAll(closers).catch((closeErr: unknown) => logger.error({ err: errorSummary(closeErr) }, 'cleanup after failed start'));
    throw err;
  }
}

/**
 * The tools the gateway serves, when it has an MCP endpoint (`mcp`, or any tool or upstream, or
 * a catalog the caller gave): the config's tools and the upstream MCP servers (which connect in
 * the background), their argument validators, and what the MCP door is built from. They close
 * with the gateway.
 */
async function serveTools(
  loaded: LoadedConfig,
  parts: { signer: AssertionSigner; forwardPlans: ReadonlyMap<string, ForwardPlan>; auditor: Auditor; logger: Logger; onCircuit: (upstream: string, open: boolean) => void },
  opts: GatewayOptions,
  closers: (() => Promise<void>)[],
): Promise<{ mcp: McpConfig; tools: ServedTools; upstreams?: Upstreams; door: Omit<McpDoorOptions, 'deps' | 'mcp'> } | undefined> {
  const { config } = loaded;
  const mcp = mcpConfigOf(config, opts.toolCatalog !== undefined);
  if (mcp === undefined) return undefined;
  let catalog: ToolCatalog;
  let validateArguments: ArgumentValidator;
  let upstreams: Upstreams | undefined;
  let onToolsChanged: ((listener: () => void) => () => void) | undefined;
  if (opts.toolCatalog !== undefined) {
    catalog = opts.toolCatalog;
    const validators = compileArgumentValidators(catalog);
    validateArguments = (name, args) => validators.validate(name, args);
  } else {
    const sources = await startToolSources(config, { baseDir: loaded.baseDir, ...parts, ...(opts.now === undefined ? {} : { now: opts.now }) });
    closers.push(() => sources.close());
    catalog = sources.catalog;
    validateArguments = sources.validateArguments;
    upstreams = sources.upstreams;
    onToolsChanged = (listener) => sources.catalog.onChange(listener);
  }
  return {
    mcp,
    tools: { catalog, validateArguments },
    ...(upstreams === undefined ? {} : { upstreams }),
    door: {
      catalog,
      ...(upstreams === undefined ? {} : { upstreams }),
      ...(onToolsChanged === undefined ? {} : { onToolsChanged }),
      ...(opts.now === undefined ? {} : { now: opts.now }),
    },
  };
}

/** The sinks' metrics, brought up to date at each scrape (the sinks count without touching prom-client). */
function watchSinks(sinks: AuditSinks, metrics: Metrics): void {
  const counted = new Map<string, { dropped: number; sent: number }>();
  const update = (): void => {
    for (const sink of sinks.sinks) {
      const now = sink.status();
      const before = counted.get(sink.name) ?? { dropped: 0, sent: 0 };
      const labels = { sink: sink.name };
      metrics.auditSinkDropped.inc(labels, now.dropped - before.dropped);
      metrics.auditSinkSent.inc(labels, now.sent - before.sent);
      metrics.auditSinkQueued.set(labels, now.queued);
      metrics.auditSinkFailing.set(labels, now.failing === undefined ? 0 : 1);
      counted.set(sink.name, { dropped: now.dropped, sent: now.sent });
    }
  };
  update();
  metrics.beforeScrape.push(update);
}

function featuresOf(upstreams: Upstreams): PipelineDeps['features'] {
  return () => upstreams.features();
}

async function closeAll(closers: (() => Promise<void>)[]): Promise<void> {
  // Reverse order: stop taking requests first, flush the audit trail last.
  for (const close of closers.splice(0).reverse()) await close();
}
