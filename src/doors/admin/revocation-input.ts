import { z } from 'zod';
import type { Revocation } from '../../stores/types.js';

/** Most characters of a revocation's value, reason and `by`. */
const MAX_TEXT = 512;
const text = z
  .string()
  .min(1)
  .max(MAX_TEXT)
  .regex(/^[^\x00-\x1f\x7f]*$/, 'must not contain control characters');

/** The body of `POST /admin/revocations`. */
export const revocationRequestSchema = z.strictObject({
  kind: z.enum(['user', 'client', 'token']),
  /** The user id, client id or `jti`, exactly as the tokens carry it. */
  value: text,
  /** Issuer id it applies to (default: every issuer). */
  issuer: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be an issuer id').optional(),
  /** How long it lasts, s (default `revocation.defaultTtlSeconds`). */
  ttlSeconds: z.number().int().min(1).max(366 * 86_400).optional(),
  /**
   * Users and clients: refuse every token until the revocation ends, not only those issued before
   * now (default false: signing in again after the revocation works).
   */
  allTokens: z.boolean().default(false),
  reason: text.optional(),
  /** Who asks (informative: the admin token is the authority). */
  by: text.optional(),
});

export type RevocationRequest = z.output<typeof revocationRequestSchema>;

/** Turns a validated request into the stored revocation, at `now` (ms since epoch). */
export function revocationOf(req: RevocationRequest, now: number, defaultTtlSeconds: number): Revocation {
  const scoped = req.kind !== 'token' && !req.allTokens;
  return {
    kind: req.kind,
    value: req.value,
    ...(req.issuer === undefined ? {} : { issuer: req.issuer }),
    at: now,
    ...(scoped ? { issuedBefore: now } : {}),
    until: now + (req.ttlSeconds ?? defaultTtlSeconds) * 1000,
    ...(req.reason === undefined ? {} : { reason: req.reason }),
    ...(req.by === undefined ? {} : { by: req.by }),
  };
}

/** A revocation as the admin API shows it: times as ISO-8601. */
export function revocationView(r: Revocation): Record<string, unknown> {
  return {
    kind: r.kind,
    value: r.value,
    issuer: r.issuer ?? null,
    at: new Date(r.at).toISOString(),
    issuedBefore: r.issuedBefore === undefined ? null : new Date(r.issuedBefore).toISOString(),
    until: new Date(r.until).toISOString(),
    reason: r.reason ?? null,
    by: r.by ?? null,
  };
}

/** One line for the audit record's `detail` and the log: what was revoked, by whom, until when. */
export function describeRevocation(r: Pick<Revocation, 'kind' | 'value' | 'issuer'> & Partial<Revocation>): string {
  const parts = [`${r.kind} ${JSON.stringify(r.value)} (issuer ${r.issuer ?? 'any'})`];
  if (r.until !== undefined) parts.push(`until ${new Date(r.until).toISOString()}`);
  if (r.kind !== 'token' && r.at !== undefined) parts.push(r.issuedBefore === undefined ? 'all tokens' : 'tokens issued before it');
  if (r.by !== undefined) parts.push(`by ${JSON.stringify(r.by)}`);
  if (r.reason !== undefined) parts.push(`reason ${JSON.stringify(r.reason)}`);
  return parts.join('; ');
}
