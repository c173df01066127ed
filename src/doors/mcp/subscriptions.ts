import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Identity } from '../../authenticate/identity.js';
import { resourcePolicyInput } from '../../authorize/feature-policy.js';
import type { Policy } from '../../authorize/policy.js';
import type { ServingUpstream } from '../../mcp-upstream/feature-index.js';
import { entryOf, type DirectorySnapshot } from '../../resolve/directory.js';
import { notificationMessage } from './jsonrpc.js';
import type { SessionStreams } from './session-streams.js';

/**
 * Resource subscriptions (session-based clients). Upstream sessions are shared by every user, so
 * the gateway subscribes upstream once per URI, on behalf of the first session that asks (with
 * that user's signed identity), and unsubscribes when the last session lets go (unsubscribe,
 * DELETE, or the session expiring). An upstream's `notifications/resources/updated` goes to each
 * subscribed session's GET stream, after the policy is asked again whether that user may still
 * read the URI. After an upstream reconnects (a new session, which knows no subscriptions), each
 * URI is subscribed again with the identity of one of its subscribers.
 */

/** Most URIs one session may subscribe to. */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 64;

interface Entry {
  readonly upstream: ServingUpstream;
  readonly uri: string;
  /** Subscribed sessions and who opened each. */
  readonly sessions: Map<string, Identity>;
}

/** The registry of one door. */
export interface Subscriptions {
  /** True when the session already subscribed to `uri` of `upstream`. */
  has(sessionId: string, upstream: string, uri: string): boolean;
  /** Subscribed URIs of the session. */
  count(sessionId: string): number;
  /** Whether the gateway's upstream session already subscribes to `uri` (another session asked first). */
  active(upstream: string, uri: string): boolean;
  add(sessionId: string, identity: Identity, upstream: ServingUpstream, uri: string): void;
  /** Removes the session's subscription to `uri`; returns the upstream's id, or undefined if it had none. */
  remove(sessionId: string, uri: string): string | undefined;
  /** Forgets every subscription of the session (it ended). */
  dropSession(sessionId: string): void;
  /** An upstream said `uri` changed: notify the sessions that may still read it. */
  deliver(upstream: string, uri: string): void;
  /** An upstream reconnected: subscribe it again to every URI someone still wants. */
  renew(upstream: string): void;
}

/** What the registry needs. */
export interface SubscriptionsOptions {
  readonly streams: SessionStreams;
  readonly policy: Policy;
  readonly directory: () => DirectorySnapshot;
  /** The endpoint's path (the policy input's path). */
  readonly path: string;
  readonly alive: (sessionId: string) => Promise<boolean>;
  readonly logger?: Logger;
}

/**
 * Creates the registry.
 *
 * This does NOT check who subscribes (the pipeline authorized the `resources/subscribe` with
 * `decide` on the URI); at delivery it decides again with the identity kept from the subscribe
 * (the token's claims as they were then) and the current directory.
 */
export function createSubscriptions(opts: SubscriptionsOptions): Subscriptions {
  const entries = new Map<string, Entry>();
  const bySession = new Map<string, Set<string>>();
  const keyOf = (upstream: string, uri: string) => `${upstream}\n${uri}`;

  const background = (entry: Entry, method: 'resources/subscribe' | 'resources/unsubscribe', identity: Identity) => {
    void entry.upstream
      .request(method, { uri: entry.uri }, { identity, requestId: randomUUID(), signal: new AbortController().signal })
      .then((reply) => {
        if (!reply.ok) opts.logger?.warn({ upstream: entry.upstream.id, detail: reply.failure.detail }, `upstream ${method} failed`);
      })
      .catch(() => undefined);
  };
  const release = (sessionId: string, key: string) => {
    const entry = entries.get(key);
    if (entry === undefined) return;
    const identity = entry.sessions.get(sessionId);
    entry.sessions.delete(sessionId);
    bySession.get(sessionId)?.delete(key);
    if (bySession.get(sessionId)?.size === 0) bySession.delete(sessionId);
    if (entry.sessions.size === 0) {
      entries.delete(key);
      if (identity !== undefined) background(entry, 'resources/unsubscribe', identity);
    }
  };
  const dropSession = (sessionId: string) => {
    for (const key of [...(bySession.get(sessionId) ?? [])]) release(sessionId, key);
  };

  return {
    has: (sessionId, upstream, uri) => entries.get(keyOf(upstream, uri))?.sessions.has(sessionId) === true,
    count: (sessionId) => bySession.get(sessionId)?.size ?? 0,
    active: (upstream, uri) => entries.has(keyOf(upstream, uri)),
    add(sessionId, identity, upstream, uri) {
      const key = keyOf(upstream.id, uri);
      let entry = entries.get(key);
      if (entry === undefined) {
        entry = { upstream, uri, sessions: new Map() };
        entries.set(key, entry);
      }
      entry.sessions.set(sessionId, identity);
      let keys = bySession.get(sessionId);
      if (keys === undefined) bySession.set(sessionId, (keys = new Set()));
      keys.add(key);
    },
    remove(sessionId, uri) {
      for (const key of bySession.get(sessionId) ?? []) {
        const entry = entries.get(key);
        if (entry?.uri === uri) {
          release(sessionId, key);
          return entry.upstream.id;
        }
      }
      return undefined;
    },
    dropSession,
    deliver(upstream, uri) {
      const entry = entries.get(keyOf(upstream, uri));
      if (entry === undefined) return;
      const snapshot = opts.directory();
      const json = notificationMessage('notifications/resources/updated', { uri });
      for (const [sessionId, identity] of entry.sessions) {
        void opts.alive(sessionId).then((alive) => {
          if (!alive) return dropSession(sessionId);
          const user = entryOf(snapshot, identity);
          const input = resourcePolicyInput({ identity, ...(user === undefined ? {} : { user }), directory: snapshot, path: opts.path }, uri);
          if (opts.policy.decide(input).allow) opts.streams.send(sessionId, json);
        });
      }
    },
    renew(upstream) {
      for (const entry of entries.values()) {
        const first = entry.upstream.id === upstream ? entry.sessions.values().next() : undefined;
        if (first !== undefined && first.done !== true) background(entry, 'resources/subscribe', first.value);
      }
    },
  };
}
