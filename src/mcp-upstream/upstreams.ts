import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.js';
import { BehalfError } from '../errors.js';
import { isValidToolName, type CatalogSourceInput, type PinState } from '../tools/catalog.js';
import type { ToolPins } from './pinning.js';
import type { CatalogTool, ToolSource } from '../tools/types.js';
import { createUpstreamSource } from './call.js';
import { createUpstreamConnection, type UpstreamConnection, type UpstreamState } from './connection.js';
import { buildUpstreamIndex, type ServingUpstream, type UpstreamFeatures } from './feature-index.js';
import { createUpstreamRequester } from './requests.js';
import type { AssertionSigner } from '../forward/identity/signed-assertion.js';
import { createAgentPool } from '../forward/agents.js';

/**
 * The upstream MCP servers behalf fronts (`upstreams:` in the config), as one set the tool
 * catalog and the door read: one {@link ToolSource} per upstream, their namespaced tools with
 * their pin status, and the index of their resources, templates and prompts. See docs/mcp.md,
 * "Upstream MCP servers" and "Tool pinning".
 */

/** What {@link createUpstreams} needs. */
export interface UpstreamsOptions {
  /** Signs the per-call identity assertion. */
  readonly signer: AssertionSigner;
  readonly logger?: Logger;
  /** The tool pins (`openToolPins`); required when an upstream has `pinning` other than `off`. */
  readonly pins?: ToolPins;
  /** Fetch for HTTP upstreams (default: the global fetch). */
  readonly fetch?: FetchLike;
  /** `PATH` for stdio upstreams' processes (default: the gateway's own PATH). */
  readonly childPath?: string;
  /** Clock for the circuits' open periods, ms (default `Date.now`). */
  readonly now?: () => number;
  /** Called when an upstream's circuit opens (`open` true) and when it closes again (for metrics). */
  readonly onCircuit?: (upstream: string, open: boolean) => void;
}

/** One upstream's health, for readiness checks and operators. */
export interface UpstreamStatus {
  readonly id: string;
  readonly state: UpstreamState;
  /** Tools of its last listing. */
  readonly tools: number;
  /** Why it is down (e.g. `ECONNREFUSED`, `connection closed`), never a secret. */
  readonly error?: string;
  /** `open` while its calls fail at once (upstreams[].circuit). */
  readonly circuit: 'open' | 'closed';
  /** Times its circuit opened since the gateway started. */
  readonly circuitOpens: number;
}

/** The set of upstreams. */
export interface Upstreams {
  /** One source per upstream, in config order (same objects for the set's life). */
  sources(): readonly ToolSource[];
  /**
   * Every upstream's tools, namespaced, with `pin: 'blocked' | 'flagged'` where the definition
   * changed since it was pinned. Blocked tools are included: the catalog hides them. Tools of an
   * upstream that is down stay listed (calls answer "upstream unavailable") until it is back.
   * The same array is returned until something changed.
   */
  tools(): readonly CatalogTool[];
  /**
   * The same tools per upstream, in the shape `buildToolCatalog` takes (one entry per upstream,
   * config order, an upstream not listed yet with no definitions). See `syncUpstreamCatalog`.
   */
  catalogInputs(): readonly CatalogSourceInput[];
  status(): readonly UpstreamStatus[];
  /** Every upstream's resources, templates and prompts, and what they declared; the same object until something changed. */
  features(): UpstreamFeatures;
  /** `cb` runs for each `notifications/resources/updated` of an upstream; returns an unsubscribe. */
  onResourceUpdated(cb: (upstream: string, uri: string) => void): () => void;
  /** `cb` runs after an upstream (re)connected: a new session, whose subscriptions must be renewed. Returns an unsubscribe. */
  onConnected(cb: (upstream: string) => void): () => void;
  /** Re-lists every upstream that is up, and tries those that are down now. */
  refresh(): Promise<void>;
  /** `cb` runs after any upstream's tools, state or pins changed; returns an unsubscribe. */
  onChange(cb: () => void): () => void;
  /** Disconnects every upstream (stdio processes are ended). */
  close(): Promise<void>;
}

/**
 * Creates the set and starts connecting to every upstream in the background: this returns at
 * once, an upstream down at start is retried (its circuit opening after `circuit.failures`
 * failed attempts), and its tools appear (with an `onChange`) when it answers. `notifications/tools/list_changed` from an upstream re-lists it.
 *
 * Throws `config-invalid` when two upstreams share a namespace, and `internal` when an upstream
 * pins tools but no `pins` were given.
 *
 * This does NOT check that upstream tool names differ from config-declared tools (the catalog
 * does), nor decide who may call what (policy does, on the namespaced name).
 */
export function createUpstreams(configs: readonly UpstreamConfig[], opts: UpstreamsOptions): Upstreams {
  const namespaces = new Map<string, string>();
  configs.forEach((cfg, i) => {
    const ns = cfg.namespace ?? cfg.id;
    const other = namespaces.get(ns);
    if (other !== undefined) throw new BehalfError('config-invalid', `upstreams[${i}].namespace: "${ns}" is already used by upstream "${other}"`);
    if (ns !== '' && !isValidToolName(`${ns}.x`)) throw new BehalfError('config-invalid', `upstreams[${i}].namespace: "${ns}" cannot start a tool name (letter, digit or "_" first)`);
    namespaces.set(ns, cfg.id);
    if (cfg.pinning !== 'off' && opts.pins === undefined) throw new BehalfError('internal', `upstream ${cfg.id} pins its tools but no tool pins were given`);
    if (cfg.transport === 'stdio' && !cfg.identity.meta) opts.logger?.warn({ upstream: cfg.id }, 'stdio upstream with identity.meta false receives no identity');
  });

  const listeners = new Set<() => void>();
  const updateListeners = new Set<(upstream: string, uri: string) => void>();
  const connectListeners = new Set<(upstream: string) => void>();
  const notify = <A extends unknown[]>(set: Set<(...args: A) => void>, ...args: A) => {
    for (const cb of set) {
      try {
        cb(...args);
      } catch (err) {
        opts.logger?.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'upstreams listener failed');
      }
    }
  };
  let cache: readonly CatalogTool[] | undefined;
  let index: UpstreamFeatures | undefined;
  const changed = () => {
    cache = undefined;
    index = undefined;
    for (const cb of listeners) {
      try {
        cb();
      } catch (err) {
        opts.logger?.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'upstreams listener failed');
      }
    }
  };

  // tools/call goes out on its own keep-alive pools (see direct-call.ts); the SDK's other
  // requests on the global dispatcher. undici's default timeouts: the call has its own deadline.
  const agents = createAgentPool();
  const callAgent = agents.agentFor();
  const connections: UpstreamConnection[] = [];
  const entries: { conn: UpstreamConnection; source: ToolSource; serving: ServingUpstream }[] = [];
  for (const cfg of configs) {
    const conn = createUpstreamConnection(cfg, {
      onChange: changed,
      onConnected: () => notify(connectListeners, cfg.id),
      onResourceUpdated: (uri) => notify(updateListeners, cfg.id, uri),
      ...(opts.pins !== undefined ? { pins: opts.pins } : {}),
      ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
      ...(opts.fetch !== undefined ? { fetch: opts.fetch } : {}),
      ...(opts.childPath !== undefined ? { childPath: opts.childPath } : {}),
      ...(opts.now !== undefined ? { now: opts.now } : {}),
      ...(opts.onCircuit !== undefined ? { onCircuit: (open: boolean) => opts.onCircuit?.(cfg.id, open) } : {}),
    });
    connections.push(conn);
    const request = createUpstreamRequester(conn, { signer: opts.signer });
    const serving: ServingUpstream = {
      id: cfg.id,
      request,
      get subscribe() {
        return conn.features().capabilities.subscribe;
      },
    };
    entries.push({ conn, source: createUpstreamSource(conn, { signer: opts.signer, dispatcher: opts.fetch === undefined ? callAgent : undefined, ...(opts.pins !== undefined ? { pins: opts.pins } : {}) }), serving });
  }
  const unsubscribePins = opts.pins?.onChange(changed);

  const build = (): readonly CatalogTool[] => {
    const tools: CatalogTool[] = [];
    for (const { conn, source } of entries) {
      for (const t of conn.tools()) {
        const pin = opts.pins?.status(t.definition.name, t.hash, conn.config.pinning);
        tools.push(Object.freeze(pin === undefined ? { definition: t.definition, source } : { definition: t.definition, source, pin }));
      }
    }
    return Object.freeze(tools);
  };

  const catalogInputs = (): CatalogSourceInput[] =>
    entries.map(({ conn, source }) => {
      const pins = new Map<string, PinState>();
      const definitions = conn.tools().map((t) => {
        const pin = opts.pins?.status(t.definition.name, t.hash, conn.config.pinning);
        if (pin !== undefined) pins.set(t.definition.name, pin);
        return t.definition;
      });
      return { source, definitions, pins };
    });

  return {
    sources: () => entries.map((e) => e.source),
    catalogInputs,
    tools: () => (cache ??= build()),
    features: () => (index ??= buildUpstreamIndex(entries.map((e) => ({ upstream: e.serving, features: e.conn.features(), unprefixed: e.conn.namespace === '' })), opts.logger)),
    onResourceUpdated(cb) {
      updateListeners.add(cb);
      return () => updateListeners.delete(cb);
    },
    onConnected(cb) {
      connectListeners.add(cb);
      return () => connectListeners.delete(cb);
    },
    status: () =>
      connections.map((c) => ({ id: c.config.id, state: c.state, tools: c.tools().length, ...(c.lastError !== undefined ? { error: c.lastError } : {}), circuit: c.circuit, circuitOpens: c.circuitOpens })),
    async refresh() {
      // A changed pins file notifies through `pins.onChange`.
      await opts.pins?.reload();
      await Promise.all(connections.map((c) => c.refresh().catch(() => undefined)));
    },
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    async close() {
      unsubscribePins?.();
      listeners.clear();
      updateListeners.clear();
      connectListeners.clear();
      await Promise.all(connections.map((c) => c.close()));
      // close() may be called twice (the second call finds no agent left); a fault closing the
      // pool must not fail the gateway's shutdown.
      await agents.close().catch(() => undefined);
    },
  };
}
