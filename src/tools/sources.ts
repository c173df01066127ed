import type { Logger } from 'pino';
import type { Auditor } from '../audit/auditor.js';
import type { Config } from '../config/schema.js';
import { createHttpToolSource, type HttpToolSource } from './http-tool.js';
import { createUpstreams, type Upstreams } from '../mcp-upstream/upstreams.js';
import { syncUpstreamCatalog } from '../mcp-upstream/catalog.js';
import type { AssertionSigner } from '../forward/identity/signed-assertion.js';
import type { ForwardPlan } from '../forward/plans.js';
import { buildToolCatalog, type CatalogSourceInput, type MutableToolCatalog } from './catalog.js';
import { toolPinsFile } from '../mcp-upstream/pinning-file.js';
import { openToolPins, type ToolPins } from '../mcp-upstream/pinning.js';
import { compileArgumentValidators } from '../screen/validate-arguments.js';
import type { ArgumentValidator } from '../pipeline/deps.js';

/**
 * Where the endpoint's tools come from, assembled: the config's tools (one HTTP source), the
 * upstream MCP servers (one source each, connecting in the background, their tools checked
 * against the pins), one catalog over all of them that follows the upstreams as they change,
 * and the argument validators.
 */
export interface ToolSources {
  readonly catalog: MutableToolCatalog;
  readonly validateArguments: ArgumentValidator;
  /** The upstream set, when upstreams are configured (for readiness). */
  readonly upstreams?: Upstreams;
  /** Disconnects upstreams, closes backend connections and the pins file. */
  close(): Promise<void>;
}

/** What {@link startToolSources} needs besides the config. */
export interface ToolSourcesOptions {
  /** The config file's folder (relative `signing.keyFile`, hence the pins file, resolve against it). */
  readonly baseDir: string;
  readonly signer: AssertionSigner;
  readonly forwardPlans: ReadonlyMap<string, ForwardPlan>;
  /** Pin events are audited here. */
  readonly auditor: Auditor;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Called when an upstream's circuit opens or closes (see `UpstreamsOptions.onCircuit`). */
  readonly onCircuit?: (upstream: string, open: boolean) => void;
}

/**
 * Starts every tool source. Throws `config-invalid` (bad tool template or schema, a name
 * declared twice) or `tool-pins-invalid` before anything listens. Upstreams that are down are
 * not an error: their tools appear when they answer.
 */
export async function startToolSources(config: Config, opts: ToolSourcesOptions): Promise<ToolSources> {
  const closers: (() => Promise<void>)[] = [];
  try {
    const http: HttpToolSource | undefined = config.tools.length > 0 ? createHttpToolSource(config, { signer: opts.signer, forwardPlans: opts.forwardPlans }) : undefined;
    if (http !== undefined) closers.push(() => http.close());
    let pins: ToolPins | undefined;
    if (config.upstreams.some((u) => u.pinning !== 'off')) {
      const opened = await openToolPins({
        file: toolPinsFile(config, opts.baseDir),
        auditor: opts.auditor,
        logger: opts.logger,
        ...(opts.now === undefined ? {} : { now: opts.now }),
      });
      pins = opened;
      closers.push(() => opened.close());
    }
    const upstreams =
      config.upstreams.length > 0
        ? createUpstreams(config.upstreams, {
            signer: opts.signer,
            logger: opts.logger,
            ...(pins === undefined ? {} : { pins }),
            ...(opts.now === undefined ? {} : { now: opts.now }),
            ...(opts.onCircuit === undefined ? {} : { onCircuit: opts.onCircuit }),
          })
        : undefined;
    if (upstreams !== undefined) closers.push(() => upstreams.close());

    const inputs: CatalogSourceInput[] = http === undefined ? [] : [{ source: http, definitions: http.definitions }];
    if (upstreams !== undefined) inputs.push(...upstreams.catalogInputs());
    const catalog = buildToolCatalog(inputs);
    if (upstreams !== undefined) {
      // Upstreams connect in the background: their tools enter the catalog as they are listed.
      const stop = syncUpstreamCatalog(upstreams, catalog, opts.logger);
      closers.push(async () => stop());
    }
    const validators = compileArgumentValidators(catalog);
    return {
      catalog,
      validateArguments: (name, args) => validators.validate(name, args),
      ...(upstreams === undefined ? {} : { upstreams }),
      close: () => closeAll(closers),
    };
  } catch (err) {
    await closeAll(closers).catch(() => undefined);
    throw err;
  }
}

async function closeAll(closers: (() => Promise<void>)[]): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close();
}
