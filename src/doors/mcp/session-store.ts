import { randomBytes } from 'node:crypto';

/**
 * MCP sessions (protocol 2025-03-26 to 2025-11-25): created by `initialize`, named by the
 * `Mcp-Session-Id` header on every later request, ended by DELETE or idleness. A session belongs
 * to the user who opened it.
 */

/** Who opened a session: the verified token's issuer and user id. */
export interface SessionOwner {
  readonly issuer: string;
  readonly user: string;
}

/** What the client of a session said, in `initialize`, it can take from the server (only what the door relays). */
export interface SessionClientCapabilities {
  /** `sampling/createMessage`. */
  readonly sampling: boolean;
  /** `elicitation/create` in form mode (an empty `elicitation` object means form mode). */
  readonly elicitation: boolean;
  /** URL-mode elicitation (`elicitation.url`, 2025-11-25): the client opens a page the server names, e.g. for an approval. */
  readonly urlElicitation?: boolean;
}

/** Log levels from least to most severe (RFC 5424, as MCP's `logging/setLevel` uses them). */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

/** A level of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One session. Holds no token: only who owns it and what was negotiated. */
export interface McpSession {
  readonly id: string;
  readonly owner: SessionOwner;
  /** The protocol version `initialize` settled on. */
  readonly protocolVersion: string;
  /** Self-reported by the client (for logs and audit detail only; never for decisions). */
  readonly clientName?: string;
  /** Epoch ms. */
  readonly createdAt: number;
  /** What the client can take (default: nothing). */
  readonly clientCapabilities?: SessionClientCapabilities;
  /** The least severe upstream log message the client wants (`logging/setLevel`); absent: every level. */
  readonly logLevel?: LogLevel;
}

/**
 * Where sessions live. Async so a shared store (Redis) can implement it later; the in-memory one
 * answers at once. Every implementation bounds what it holds and forgets idle sessions.
 */
export interface SessionStore {
  /** Stores a new session (may drop the least recently used ones to stay within bounds). */
  create(session: McpSession): Promise<void>;
  /** The live session with this id, refreshing its idle timer; undefined if unknown or expired. */
  touch(id: string): Promise<McpSession | undefined>;
  /** The live session with this id without refreshing its idle timer (is it still there?). */
  peek(id: string): Promise<McpSession | undefined>;
  /** Forgets a session; true if it existed. */
  delete(id: string): Promise<boolean>;
  /** Sets the session's log level (`logging/setLevel`); requests that start afterwards see it. False if the session is gone. */
  setLogLevel(id: string, level: LogLevel): Promise<boolean>;
  /** Sessions held now (metrics and tests). */
  size(): number;
}

/** Options of the in-memory store. Durations in ms. */
export interface MemorySessionStoreOptions {
  /** Most sessions held (`mcp.maxSessions`); the least recently used is dropped first. */
  maxSessions: number;
  /** Most sessions one owner may hold; past it, that owner's least recently used one is dropped. Default 64. */
  maxPerOwner?: number;
  /** A session unused this long is forgotten (`mcp.sessionIdleSeconds` x 1000). */
  idleMs: number;
  /** Clock, ms since epoch. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  session: McpSession;
  readonly ownerKey: string;
  lastSeen: number;
}

/**
 * Sessions in one process, in a Map kept in least-recently-used order (a touch moves an entry to
 * the end), so eviction and expiry both start from the front and never scan live entries.
 * A per-owner cap keeps one user from pushing everyone else's sessions out.
 *
 * This does NOT check who may use a session: the caller compares `owner` with the verified
 * identity. It does NOT share sessions between gateway instances.
 */
export function createMemorySessionStore(opts: MemorySessionStoreOptions): SessionStore {
  const now = opts.now ?? Date.now;
  const maxPerOwner = opts.maxPerOwner ?? 64;
  const entries = new Map<string, Entry>();
  const perOwner = new Map<string, number>();

  const remove = (id: string, entry: Entry) => {
    entries.delete(id);
    const n = (perOwner.get(entry.ownerKey) ?? 1) - 1;
    if (n <= 0) perOwner.delete(entry.ownerKey);
    else perOwner.set(entry.ownerKey, n);
  };
  const expireFront = (t: number) => {
    for (const [id, entry] of entries) {
      if (t - entry.lastSeen < opts.idleMs) break;
      remove(id, entry);
    }
  };

  return {
    async create(session) {
      const t = now();
      expireFront(t);
      const ownerKey = ownerKeyOf(session.owner);
      if ((perOwner.get(ownerKey) ?? 0) >= maxPerOwner) {
        for (const [id, entry] of entries) {
          if (entry.ownerKey === ownerKey) {
            remove(id, entry);
            break;
          }
        }
      }
      while (entries.size >= opts.maxSessions) {
        const first = entries.entries().next();
        if (first.done === true) break;
        remove(first.value[0], first.value[1]);
      }
      entries.set(session.id, { session, ownerKey, lastSeen: t });
      perOwner.set(ownerKey, (perOwner.get(ownerKey) ?? 0) + 1);
    },
    async touch(id) {
      const entry = entries.get(id);
      if (entry === undefined) return undefined;
      const t = now();
      if (t - entry.lastSeen >= opts.idleMs) {
        remove(id, entry);
        return undefined;
      }
      entry.lastSeen = t;
      entries.delete(id);
      entries.set(id, entry);
      return entry.session;
    },
    async peek(id) {
      const entry = entries.get(id);
      if (entry === undefined) return undefined;
      if (now() - entry.lastSeen >= opts.idleMs) {
        remove(id, entry);
        return undefined;
      }
      return entry.session;
    },
    async setLogLevel(id, level) {
      const entry = entries.get(id);
      if (entry === undefined) return false;
      entry.session = { ...entry.session, logLevel: level };
      return true;
    },
    async delete(id) {
      const entry = entries.get(id);
      if (entry === undefined) return false;
      remove(id, entry);
      return true;
    },
    size: () => entries.size,
  };
}

/** True when `owner` is the same user (issuer and user id both equal). */
export function sameOwner(a: SessionOwner, b: SessionOwner): boolean {
  return a.issuer === b.issuer && a.user === b.user;
}

function ownerKeyOf(owner: SessionOwner): string {
  // A newline cannot occur in an issuer URL, so no two owners share a key.
  return `${owner.issuer}\n${owner.user}`;
}

/** A new session id: 128 bits from the CSPRNG, base64url (22 visible ASCII characters). */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}
