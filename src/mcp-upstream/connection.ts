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
import { DEFAULTS } from '../config/defaults.js';

/**
 * One upstream MCP server: its SDK client session, its listed tools, resources, templates and
 * prompts, and the reconnection with backoff when it is down. Connecting never blocks the
 * gateway: it runs in the background and the upstream's tools appear once it answers.
 */

/** `up`: a session is open; `connecting`: first attempt running; `down`: waiting to retry. */
export type UpstreamState = 'connecting' | 'up' | 'down' | 'closed';

/** Retry timing after a failure: the delay doubles from `initialMs` up to `maxMs`. */
export interface Backoff {
  /** First retry delay, ms; default 500. */
  readonly initialMs?: number;
  /** Longest delay, ms; default 30 000. */
  readonly maxMs?: number;
}

/** What a connection needs. */
export interface UpstreamConnectionOptions extends UpstreamTransportOptions {
  readonly pins?: ToolPins;
  readonly backoff?: Backoff;
  /** Monotonic-enough clock for the backoff, ms (default `Date.now`). */
  readonly now?: () => number;
  /** Called when the listed tools, resources, templates or prompts (or the state) changed. */
  readonly onChange: () => void;
  /** Called after each (re)connection, once the new session is listed (to renew subscriptions). */
  readonly onConnected?: () => void;
  /** Called for each `notifications/resources/updated` the upstream sends (a URI over 2,048 characters is dropped). */
  readonly onResourceUpdated?: (uri: string) => void;
}

/** One upstream's live session. */
export interface UpstreamConnection {
  readonly config: UpstreamConfig;
  /** Tool name prefix (`namespace` ?? `id`; `""`: none). */
  readonly namespace: string;
  readonly state: UpstreamState;
  /** Short reason of the last failure (for readiness and logs), never a secret or a body. */
  readonly lastError: string | undefined;
  /** The tools of the last successful listing (kept while the upstream is down). */
  tools(): readonly ListedTool[];
  /** Its resources, templates, prompts and capabilities, from the last listing (kept while down). */
  features(): UpstreamFeatureList;
  /** The open session; when down and the backoff allows, tries to reconnect first. */
  client(): Promise<Client | undefined>;
  /** A call found the session broken: drop it and reconnect in the background. */
  failed(reason: string): void;
  /** Re-list now when up; try to connect now (ignoring the backoff) when down. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** A failure's short, non-secret description: never an SDK message (they may quote bodies). */
export function failureOf(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (typeof cause === 'string') return cause;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number' || typeof code === 'string') return `${err instanceof Error ? err.name : 'error'} ${code}`;
  return err instanceof Error ? err.name : 'error';
}

/**
 * Creates the connection and starts connecting in the background.
 *
 * This does NOT check what the upstream's tools do, only what they declare (see
 * `listUpstreamTools` for the tools left out).
 */
export function createUpstreamConnection(cfg: UpstreamConfig, opts: UpstreamConnectionOptions): UpstreamConnection {
  const namespace = cfg.namespace ?? cfg.id;
  const now = opts.now ?? Date.now;
  const initialMs = opts.backoff?.initialMs ?? DEFAULTS.upstreamReconnectInitialMs;
  const maxMs = opts.backoff?.maxMs ?? DEFAULTS.upstreamReconnectMaxMs;
  const log = opts.logger?.child({ upstream: cfg.id });

  let state: UpstreamState = 'connecting';
  let lastError: string | undefined;
  let current: Client | undefined;
  let listed: readonly ListedTool[] = [];
  let features: UpstreamFeatureList = NO_FEATURES;
  let connecting: Promise<Client | undefined> | undefined;
  let delay = initialMs;
  let nextAttemptAt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let listing: Promise<void> | undefined;
  let listingFor: Client | undefined;
  let listAgain = false;
  /** Tools already reported as left out (logged once, not on every listing). */
  const warned = new Set<string>();

  const scheduleRetry = () => {
    if (state === 'closed') return;
    nextAttemptAt = now() + delay;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => void connect(), delay);
    retryTimer.unref();
    delay = Math.min(delay * 2, maxMs);
  };

  const drop = (client: Client | undefined) => {
    if (client === undefined) return;
    if (current === client) current = undefined;
    client.onclose = undefined;
    void client.close().catch(() => undefined);
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
      client.onclose = () => {
        if (current !== client || state === 'closed') return;
        current = undefined;
        state = 'down';
        lastError = 'connection closed';
        log?.warn('upstream connection closed; reconnecting');
        opts.onChange();
        scheduleRetry();
      };
      current = client;
      await relist(client);
      // The session is shared by every user: the upstream sends every level, and the door
      // filters per client session by the level that client set.
      if (features.capabilities.logging) await client.setLoggingLevel('debug', { timeout: cfg.timeoutMs }).catch((err: unknown) => log?.debug({ error: failureOf(err) }, 'upstream refused logging/setLevel'));
      return client;
    } catch (err) {
      drop(client);
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
          drop(client);
          return undefined;
        }
        const wasDown = state === 'down';
        state = 'up';
        lastError = undefined;
        delay = initialMs;
        clearTimeout(retryTimer);
        log?.info({ tools: listed.length }, wasDown ? 'upstream reconnected' : 'upstream connected');
        opts.onChange();
        opts.onConnected?.();
        return client;
      },
      (err: unknown) => {
        connecting = undefined;
        if (state === 'closed') return undefined;
        const first = state === 'connecting';
        state = 'down';
        lastError = failureOf(err);
        (first ? log?.warn.bind(log) : log?.debug.bind(log))?.({ error: lastError, retryInMs: delay }, 'upstream not available');
        scheduleRetry();
        return undefined;
      },
    );
    return connecting;
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
    tools: () => listed,
    features: () => features,
    client() {
      if (current !== undefined) return Promise.resolve(current);
      if (connecting !== undefined) return connecting;
      if (state === 'closed' || now() < nextAttemptAt) return Promise.resolve(undefined);
      return connect();
    },
    failed(reason) {
      if (current === undefined || state === 'closed') return;
      drop(current);
      state = 'down';
      lastError = reason;
      log?.warn({ error: reason }, 'upstream call failed; reconnecting');
      opts.onChange();
      delay = initialMs;
      scheduleRetry();
    },
    async refresh() {
      const client = current;
      if (client !== undefined) {
        await outsideCalls(() => relist(client));
        return;
      }
      await connect();
    },
    async close() {
      state = 'closed';
      clearTimeout(retryTimer);
      const client = current;
      current = undefined;
      await connecting?.catch(() => undefined);
      if (client !== undefined) {
        client.onclose = undefined;
        await client.close().catch(() => undefined);
      }
    },
  };
}
