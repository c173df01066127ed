import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { ToolPins } from './pinning.js';
import { listUpstreamFeatures, MAX_URI_LENGTH, NO_FEATURES, type UpstreamFeatureList } from './features.js';
import { installRelay, RELAY_CAPABILITIES } from './relay.js';
import { listUpstreamTools, type ListedTool } from './tools.js';
import { createUpstreamTransport, outsideCalls, type UpstreamTransportOptions } from './transport.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { failureKind, failureOf } from './failure-kind.js';

/**
 * One upstream MCP server: its SDK client session, shared by every user's requests, its listed
 * tools, resources, templates and prompts, and its circuit breaker. Connecting never blocks the
 * gateway: it runs in the background and the upstream's tools appear once it answers.
 *
 * One caller's broken request never takes the session from the others. A request that failed is
 * reported by its kind (see failure-kind.ts): an answer cut short fails that request only; a
 * request that could not reach the upstream has the session checked with a `ping` (one at a
 * time); only a session the upstream forgot (404), a failed check or a closed transport retires
 * it. A retired session is not used for new requests, but those in flight over it may finish;
 * a new one is opened at once and calls that arrive meanwhile wait for it instead of failing.
 * The circuit (circuit-breaker.ts) counts connection attempts and checks, never calls.
 */

/**
 * `up`: a session is open; `connecting`: an attempt runs (the first, or after the session was
 * lost); `down`: no session, the last attempt or check failed (a call tries again, or fails at
 * once while the circuit is open).
 */
export type UpstreamState = 'connecting' | 'up' | 'down' | 'closed';

/** What a connection needs. */
export interface UpstreamConnectionOptions extends UpstreamTransportOptions {
  readonly pins?: ToolPins;
  /** Clock for the circuit's open periods, ms (default `Date.now`). */
  readonly now?: () => number;
  /** Called when the listed tools, resources, templates or prompts (or the state) changed. */
  readonly onChange: () => void;
  /** Called after each (re)connection, once the new session is listed (to renew subscriptions). */
  readonly onConnected?: () => void;
  /** Called for each `notifications/resources/updated` the upstream sends (a URI over 2,048 characters is dropped). */
  readonly onResourceUpdated?: (uri: string) => void;
  /** Called when the circuit opens (`true`) and when it closes again (`false`). */
  readonly onCircuit?: (open: boolean) => void;
}

/** One upstream's live session. */
export interface UpstreamConnection {
  readonly config: UpstreamConfig;
  /** Tool name prefix (`namespace` ?? `id`; `""`: none). */
  readonly namespace: string;
  readonly state: UpstreamState;
  /** Short reason of the last failure (for readiness and logs), never a secret or a body. */
  readonly lastError: string | undefined;
  /** `open` while calls fail at once without reaching the upstream. */
  readonly circuit: 'open' | 'closed';
  /** Times the circuit opened since the connection was created. */
  readonly circuitOpens: number;
  /** The tools of the last successful listing (kept while the upstream is down). */
  tools(): readonly ListedTool[];
  /** Its resources, templates, prompts and capabilities, from the last listing (kept while down). */
  features(): UpstreamFeatureList;
  /**
   * The open session; with none, the (re)connection under way, or a new attempt, unless the
   * circuit is open (then `undefined` at once).
   */
  client(): Promise<Client | undefined>;
  /** The upstream forgot `client`'s session (HTTP 404): retire it and open a new one now. */
  sessionLost(client: Client, reason: string): void;
  /**
   * A request over `client` could not reach the upstream (or timed out): checks the session
   * with a `ping` (one check at a time, shared by the callers that ask meanwhile). Resolves
   * whether the upstream can be used now, over this session or a new one; never rejects. A
   * failed check retires the session and counts towards opening the circuit.
   *
   * This does NOT check the tools: a tool that fails while `ping` answers leaves the session
   * and the circuit alone.
   */
  check(client: Client): Promise<boolean>;
  /** Re-list now when up; try to connect now (ignoring the circuit) when down. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** The audit detail of a call that found no session: why, and whether the circuit is open. */
export function unavailableDetail(conn: UpstreamConnection): string {
  const why = conn.lastError ?? 'not connected';
  return `upstream ${conn.config.id} unavailable: ${conn.circuit === 'open' ? `circuit open (${why})` : why}`;
}

/**
 * Creates the connection and starts connecting in the background.
 *
 * This does NOT check what the upstream's tools do, only what they declare (see
 * `listUpstreamTools` for the tools left out). It does NOT bound how often one caller makes its
 * own requests fail: the limit stage does.
 */
export function createUpstreamConnection(cfg: UpstreamConfig, opts: UpstreamConnectionOptions): UpstreamConnection {
  const namespace = cfg.namespace ?? cfg.id;
  const circuit = new CircuitBreaker(cfg.circuit, opts.now ?? Date.now);
  const log = opts.logger?.child({ upstream: cfg.id });

  let state: UpstreamState = 'connecting';
  let lastError: string | undefined;
  let current: Client | undefined;
  let everConnected = false;
  let listed: readonly ListedTool[] = [];
  let features: UpstreamFeatureList = NO_FEATURES;
  let connecting: Promise<Client | undefined> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let probe: { readonly client: Client; readonly healthy: Promise<boolean> } | undefined;
  /** Retired sessions, closed once what is in flight over them had its time (`timeoutMs`). */
  const retired = new Map<Client, NodeJS.Timeout>();
  let listing: Promise<void> | undefined;
  let listingFor: Client | undefined;
  let listAgain = false;
  /** Tools already reported as left out (logged once, not on every listing). */
  const warned = new Set<string>();

  const scheduleRetry = (ms: number) => {
    if (state === 'closed') return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => void connect(), ms);
    retryTimer.unref();
  };

  const closeClient = (client: Client) => {
    client.onclose = undefined;
    void client.close().catch(() => undefined);
  };

  /** `client` takes no new request; it closes after `timeoutMs`, when what it carries is over. */
  const retire = (client: Client) => {
    if (current === client) current = undefined;
    client.onclose = undefined;
    if (retired.has(client)) return;
    const timer = setTimeout(() => {
      retired.delete(client);
      closeClient(client);
    }, cfg.timeoutMs);
    timer.unref();
    retired.set(client, timer);
  };

  /** A connection attempt or a session check failed: count it; retry in the background. */
  const checkFailed = () => {
    const { opened, retryInMs } = circuit.failed();
    if (opened) {
      log?.warn({ error: lastError, failures: circuit.failures, retryInMs }, 'upstream circuit open: calls fail at once until a trial connection succeeds');
      opts.onCircuit?.(true);
    } else if (circuit.failures === 1) log?.warn({ error: lastError, retryInMs }, 'upstream not available');
    else log?.debug({ error: lastError, retryInMs }, 'upstream still not available');
    if (state !== 'down') {
      state = 'down';
      opts.onChange();
    }
    scheduleRetry(retryInMs);
  };

  /** The upstream answered that it forgot the session: a new one now; calls wait for it. */
  const lose = (client: Client, reason: string) => {
    if (current !== client || state === 'closed') return;
    retire(client);
    state = 'connecting';
    lastError = reason;
    log?.warn({ error: reason }, 'upstream session lost; reconnecting');
    opts.onChange();
    void connect();
  };

  /** The session could not be used (failed check, closed transport): retire it, count it. */
  const broken = (client: Client, reason: string) => {
    if (current !== client || state === 'closed') return;
    retire(client);
    lastError = reason;
    checkFailed();
  };

  const listAll = async (client: Client): Promise<void> => {
    listed = await listUpstreamTools(client, cfg, { namespace, warned, ...(log !== undefined ? { log } : {}), ...(opts.pins !== undefined ? { pins: opts.pins } : {}) });
    features = await listUpstreamFeatures(client, cfg, { namespace, warned, ...(log !== undefined ? { log } : {}) });
  };

  /** Re-lists, coalescing notifications that arrive while a listing runs. */
  const relist = (client: Client): Promise<void> => {
    if (listing !== undefined && listingFor === client) {
      listAgain = true;
      return listing;
    }
    // A listing over a dropped session may still be running: let it end, then list anew.
    if (listing !== undefined) return listing.catch(() => undefined).then(() => relist(client));
    listingFor = client;
    listing = (async () => {
      try {
        do {
          listAgain = false;
          await listAll(client);
          opts.onChange();
        } while (listAgain && current === client);
      } finally {
        listing = undefined;
      }
    })();
    return listing;
  };

  const connectOnce = async (): Promise<Client> => {
    const client = new Client({ name: 'behalf-gateway', version: '0.1.0' }, { capabilities: RELAY_CAPABILITIES });
    // Any list change re-lists everything: changes are rare, and one listing path keeps the
    // catalog, the pins and the features consistent.
    const onListChanged = () => {
      if (current === client) relist(client).catch((err: unknown) => log?.warn({ error: failureOf(err) }, 'upstream could not be re-listed'));
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, onListChanged);
    client.setNotificationHandler(ResourceListChangedNotificationSchema, onListChanged);
    client.setNotificationHandler(PromptListChangedNotificationSchema, onListChanged);
    installRelay(client, cfg.id, log);
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      if (current === client && n.params.uri.length <= MAX_URI_LENGTH) opts.onResourceUpdated?.(n.params.uri);
    });
    client.onerror = (err) => log?.debug({ error: failureOf(err) }, 'upstream transport error');
    try {
      await client.connect(createUpstreamTransport(cfg, opts), { timeout: cfg.timeoutMs });
      client.onclose = () => broken(client, 'connection closed');
      current = client;
      await relist(client);
      // The session is shared by every user: the upstream sends every level, and the door
      // filters per client session by the level that client set.
      if (features.capabilities.logging) await client.setLoggingLevel('debug', { timeout: cfg.timeoutMs }).catch((err: unknown) => log?.debug({ error: failureOf(err) }, 'upstream refused logging/setLevel'));
      return client;
    } catch (err) {
      if (current === client) current = undefined;
      closeClient(client);
      throw err;
    }
  };

  const connect = (): Promise<Client | undefined> => {
    if (state === 'closed') return Promise.resolve(undefined);
    if (current !== undefined) return Promise.resolve(current);
    // Outside any request's scope: the new session must not carry a call's headers, nor relay
    // what arrives on its GET stream to the request that happened to trigger the reconnection.
    connecting ??= outsideCalls(() => connectOnce()).then(
      (client) => {
        connecting = undefined;
        if (state === 'closed') {
          closeClient(client);
          return undefined;
        }
        state = 'up';
        lastError = undefined;
        clearTimeout(retryTimer);
        if (circuit.passed()) {
          log?.info('upstream circuit closed');
          opts.onCircuit?.(false);
        }
        log?.info({ tools: listed.length }, everConnected ? 'upstream reconnected' : 'upstream connected');
        everConnected = true;
        opts.onChange();
        opts.onConnected?.();
        return client;
      },
      (err: unknown) => {
        connecting = undefined;
        if (state === 'closed') return undefined;
        lastError = failureOf(err);
        checkFailed();
        return undefined;
      },
    );
    return connecting;
  };

  const client = (): Promise<Client | undefined> => {
    if (current !== undefined) return Promise.resolve(current);
    if (connecting !== undefined) return connecting;
    if (state === 'closed' || circuit.blocking) return Promise.resolve(undefined);
    return connect();
  };

  const check = (checked: Client): Promise<boolean> => {
    if (state === 'closed') return Promise.resolve(false);
    if (checked !== current) return client().then((c) => c !== undefined);
    if (probe?.client === checked) return probe.healthy;
    const healthy = outsideCalls(() => checked.ping({ timeout: cfg.circuit.probeTimeoutMs })).then(
      () => {
        if (current === checked) circuit.passed();
        return true;
      },
      async (err: unknown) => {
        if (failureKind(err) === 'session-lost') lose(checked, 'session expired');
        else broken(checked, `check failed: ${failureOf(err)}`);
        return (await client()) !== undefined;
      },
    );
    const entry = { client: checked, healthy };
    probe = entry;
    void healthy.finally(() => {
      if (probe === entry) probe = undefined;
    });
    return healthy;
  };

  void connect();

  return {
    config: cfg,
    namespace,
    get state() {
      return state;
    },
    get lastError() {
      return lastError;
    },
    get circuit() {
      return circuit.open ? 'open' : 'closed';
    },
    get circuitOpens() {
      return circuit.opens;
    },
    tools: () => listed,
    features: () => features,
    client,
    sessionLost: lose,
    check,
    async refresh() {
      const open = current;
      if (open !== undefined) {
        await outsideCalls(() => relist(open));
        return;
      }
      await connect();
    },
    async close() {
      state = 'closed';
      clearTimeout(retryTimer);
      const open = current;
      current = undefined;
      await connecting?.catch(() => undefined);
      for (const [old, timer] of retired) {
        clearTimeout(timer);
        closeClient(old);
      }
      retired.clear();
      if (open !== undefined) {
        open.onclose = undefined;
        await open.close().catch(() => undefined);
      }
    },
  };
}
