import { randomBytes } from 'node:crypto';
import type { Revocation, RevocationKind, RevocationStore } from './types.js';

/** The field a revocation is kept under: one per kind, issuer and value. */
export function revocationField(kind: RevocationKind, value: string, issuer: string | undefined): string {
  return `${kind}:${issuer ?? '*'}:${value}`;
}

/** A fresh, never-repeating version token: time plus randomness (a restarted store never reuses one). */
export function newRevocationVersion(now: number): string {
  return `${now.toString(36)}.${randomBytes(6).toString('base64url')}`;
}

/**
 * Revocations of one gateway process (`revocation.store: memory`, for tests). A restart forgets
 * them: the default file store (file-revocations.ts) keeps them; several instances share Redis.
 */
export function createMemoryRevocationStore(): RevocationStore {
  const entries = new Map<string, Revocation>();
  let version = newRevocationVersion(Date.now());
  const prune = (now: number) => {
    for (const [field, r] of entries) if (r.until <= now) entries.delete(field);
  };
  return {
    kind: 'memory',
    async add(revocation, now) {
      prune(now);
      entries.set(revocationField(revocation.kind, revocation.value, revocation.issuer), revocation);
      version = newRevocationVersion(now);
    },
    async remove(kind, value, issuer, now) {
      prune(now);
      const removed = entries.delete(revocationField(kind, value, issuer));
      if (removed) version = newRevocationVersion(now);
      return removed;
    },
    async list(now) {
      return [...entries.values()].filter((r) => r.until > now);
    },
    version: async () => version,
    ping: async () => {},
    close: async () => {},
  };
}
