import type { Logger } from 'pino';
import type { RevocationConfig } from '../config/schema.js';
import type { Revocation, RevocationKind, RevocationStore } from '../stores/types.js';
import type { Identity } from './identity.js';

/** What {@link RevocationList.check} found. */
export type RevocationVerdict = 'ok' | 'revoked' | 'unavailable';

/** Hooks the gateway turns into metrics. */
export interface RevocationListHooks {
  /** A sync with the shared store failed. */
  onStoreError?: () => void;
  /** The local copy became too old to trust (`true`) or fresh again (`false`). */
  onStale?: (stale: boolean) => void;
}

/** The authenticate stage's view of revocations: a local copy, checked without I/O. */
export interface RevocationList {
  /**
   * Whether a verified identity is revoked. `unavailable` only when the shared store has not been
   * read for `revocation.maxStalenessMs` and `revocation.onStoreError` is `deny`; a revocation
   * already in the local copy is always `revoked`, stale or not.
   */
  check(identity: Identity): RevocationVerdict;
  /** Stores a revocation (rejects when the store cannot be reached) and applies it here at once. */
  add(revocation: Revocation): Promise<void>;
  /** Removes one; false when there was none. */
  remove(kind: RevocationKind, value: string, issuer: string | undefined): Promise<boolean>;
  /** Every revocation in force, read from the store. */
  list(): Promise<Revocation[]>;
  /** True while the local copy is fresh enough to trust (always, on the memory store). */
  readonly fresh: boolean;
  /** Revocations in the local copy. */
  readonly size: number;
  /**
   * Starts syncing a shared store (resolves at once; the first sync runs in the background). A
   * store of this instance alone (memory, file) is read once instead: await it before serving, so
   * revocations kept in a file are enforced from the first request.
   */
  start(): Promise<void>;
  /** Stops syncing and closes the store. */
  close(): Promise<void>;
}

/** Options of {@link createRevocationList}. */
export interface RevocationListOptions {
  config: RevocationConfig;
  /** Clock, ms since epoch. Default `Date.now`. */
  now?: () => number;
  logger?: Logger;
  hooks?: RevocationListHooks;
}

/**
 * Keeps every instance's copy of the revocations in step with the store: each `syncMs` it reads
 * the store's version token and, when it changed, the whole set (revocations are few: people and
 * clients, and tokens only until they expire). A revocation made anywhere is enforced everywhere
 * within `syncMs` plus one round trip. If the store cannot be read for `maxStalenessMs`, checks
 * follow `onStoreError` (default `deny`: 503 until it can), because a revocation that a stale copy
 * lacks would otherwise be missed.
 *
 * This does NOT check the token's signature or claims (the authenticator did), and does NOT
 * revoke tokens at the IdP: it only makes behalf refuse them.
 */
export function createRevocationList(store: RevocationStore, opts: RevocationListOptions): RevocationList {
  const now = opts.now ?? Date.now;
  const { syncMs, maxStalenessMs, onStoreError } = opts.config;
  // A memory or file store belongs to this instance alone: its set only changes through add/remove.
  const shared = store.kind === 'redis';
  let index = new Map<string, Revocation[]>();
  let size = 0;
  let version: string | undefined;
  // Shared store: nothing is trusted until the first successful read.
  let lastSync = shared ? -Infinity : Infinity;
  let stale = shared;
  let timer: NodeJS.Timeout | undefined;
  let syncing: Promise<void> | undefined;
  // Bumped by add/remove: a sync that read the set before a local change must not undo it.
  let localChanges = 0;

  const rebuild = (all: readonly Revocation[]) => {
    const next = new Map<string, Revocation[]>();
    for (const r of all) {
      const key = `${r.kind}\0${r.value}`;
      const list = next.get(key);
      if (list === undefined) next.set(key, [r]);
      else list.push(r);
    }
    index = next;
    size = all.length;
  };

  const setStale = (value: boolean) => {
    if (value === stale) return;
    stale = value;
    opts.hooks?.onStale?.(value);
    if (value) opts.logger?.error({ maxStalenessMs, onStoreError }, 'revocations could not be synced from the store; checks follow revocation.onStoreError');
    else opts.logger?.info('revocations synced from the store again');
  };

  const sync = (): Promise<void> => {
    syncing ??= (async () => {
      try {
        const v = await store.version();
        if (v !== version) {
          const seen = localChanges;
          const all = await store.list(now());
          if (seen === localChanges) {
            rebuild(all);
            version = v;
          } else {
            version = undefined;
          }
        }
        lastSync = now();
        setStale(false);
      } catch {
        opts.hooks?.onStoreError?.();
        if (now() - lastSync > maxStalenessMs) setStale(true);
      } finally {
        syncing = undefined;
      }
    })();
    return syncing;
  };

  // A user revocation names the user as behalf does (`partner:alice`), or the token's own id
  // with the issuer (`alice` at `partner`): `scopedOnly` is that second reading.
  const matches = (kind: RevocationKind, value: string | undefined, identity: Identity, t: number, scopedOnly = false): boolean => {
    if (value === undefined) return false;
    const list = index.get(`${kind}\0${value}`);
    if (list === undefined) return false;
    for (const r of list) {
      if (r.until <= t) continue;
      if (r.issuer === undefined ? scopedOnly : r.issuer !== identity.issuerId) continue;
      // Without iat, a token cannot show it was issued after the revocation: refused.
      if (r.issuedBefore !== undefined && identity.issuedAt !== undefined && identity.issuedAt * 1000 > r.issuedBefore) continue;
      return true;
    }
    return false;
  };

  return {
    check(identity) {
      if (size > 0) {
        const t = now();
        if (
          matches('token', identity.tokenId, identity, t) ||
          matches('user', identity.id, identity, t) ||
          (identity.subject !== undefined && matches('user', identity.subject, identity, t, true)) ||
          matches('client', identity.client, identity, t)
        ) {
          return 'revoked';
        }
      }
      if (shared && now() - lastSync > maxStalenessMs) {
        setStale(true);
        return onStoreError === 'deny' ? 'unavailable' : 'ok';
      }
      return 'ok';
    },
    async add(revocation) {
      await store.add(revocation, now());
      localChanges++;
      rebuild([...[...index.values()].flat().filter((r) => !sameTarget(r, revocation)), revocation]);
      if (shared) void sync();
    },
    async remove(kind, value, issuer) {
      const removed = await store.remove(kind, value, issuer, now());
      localChanges++;
      rebuild([...index.values()].flat().filter((r) => !sameTarget(r, { kind, value, issuer })));
      if (shared) void sync();
      return removed;
    },
    list: () => store.list(now()),
    get fresh() {
      return !shared || now() - lastSync <= maxStalenessMs;
    },
    get size() {
      return size;
    },
    async start() {
      if (!shared) return sync();
      if (timer !== undefined) return;
      void sync();
      timer = setInterval(() => void sync(), syncMs);
      timer.unref();
    },
    async close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await syncing;
      await store.close();
    },
  };
}

function sameTarget(a: Pick<Revocation, 'kind' | 'value' | 'issuer'>, b: Pick<Revocation, 'kind' | 'value' | 'issuer'>): boolean {
  return a.kind === b.kind && a.value === b.value && a.issuer === b.issuer;
}
