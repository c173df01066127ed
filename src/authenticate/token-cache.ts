import { hash } from 'node:crypto';
import type { Identity } from './identity.js';

/** What a cache hit needs to re-check the route's constraints without verifying again. */
export interface CachedToken {
  readonly identity: Identity;
  /** The token's `aud` values, to re-check the audience a route expects. */
  readonly audiences: readonly string[];
  /** Epoch milliseconds after which the entry is never used (the token's `exp`). */
  readonly expiresAtMs: number;
}

/**
 * Cache key of a token: SHA-256 of its UTF-8 bytes, base64url. The token itself is never stored.
 * One-shot (`crypto.hash`): no Hash object per request.
 */
export function tokenKey(token: string): string {
  return hash('sha256', token, 'base64url');
}

/**
 * A bounded least-recently-used cache of verified tokens, keyed by `tokenKey(token)`.
 *
 * An entry is never returned at or after its `expiresAtMs` (read with the injected clock), even
 * if the issuer allows clock skew: after `exp` the token is verified again, and the verifier
 * applies the skew. A `Map` keeps insertion order, so re-inserting on a hit makes it an LRU with
 * O(1) operations.
 *
 * This does NOT check that a cached token is acceptable on the current route (issuer allow-list,
 * audience): the authenticator does that on every hit. It does NOT learn of revocations.
 */
export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();
  private readonly max: number;
  private readonly now: () => number;

  /** @param maxEntries bound on entries (0 disables the cache). @param now clock, ms since epoch. */
  constructor(maxEntries: number, now: () => number) {
    this.max = Math.max(0, Math.floor(maxEntries));
    this.now = now;
  }

  /** Number of entries held (expired ones included until evicted or looked up). */
  get size(): number {
    return this.entries.size;
  }

  /** The live entry for `key`, marked most recently used; `undefined` when absent or expired. */
  get(key: string): CachedToken | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (this.now() >= entry.expiresAtMs) return undefined;
    this.entries.set(key, entry);
    return entry;
  }

  /** Insert or replace, evicting the least recently used entries beyond the bound. */
  set(key: string, entry: CachedToken): void {
    if (this.max === 0 || this.now() >= entry.expiresAtMs) return;
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }
}
