import { randomBytes } from 'node:crypto';
import type { Reason } from '../pipeline/reasons.js';
import type { LimitStore } from '../stores/types.js';
import { bucketName } from './bucket-key.js';
import { periodOf } from './periods.js';
import type { CompiledRule, LimitSubject } from './rules.js';

/**
 * One store operation per matching rule (and one for the runaway guard), each turned into a
 * {@link Step}: allowed or not, what it says in the RateLimit fields, and how to give back what
 * it took if another rule refuses the request.
 */

/** The outcome of one rule for one request. */
export interface Step {
  /** The rule id, or `runaway`. */
  readonly label: string;
  readonly allowed: boolean;
  /** The reason a denial of this step carries. */
  readonly reason: Reason;
  /** When denied: ms until the call could be allowed. */
  readonly retryAfterMs: number;
  /** `RateLimit-Policy` item. */
  readonly policy?: string;
  /** `RateLimit` item. */
  readonly state?: string;
  /** Audit detail of a denial: the rule and its numbers, never a user id. */
  readonly detail: string;
  /** Gives back what an allowed step took (the request was refused by another rule). */
  readonly undo?: () => Promise<void>;
  /** Concurrency: the slot to release when the response ends. */
  readonly lease?: { readonly bucket: string; readonly leaseId: string };
  /** Quota: what was charged up front, to correct when the backend reports the real cost. */
  readonly charge?: { readonly bucket: string; readonly period: string; readonly charged: number; readonly ttlMs: number };
}

/** What a check needs besides the rule. */
export interface CheckContext {
  readonly store: LimitStore;
  readonly now: number;
  /** Quota cost of this call, units. */
  readonly cost: number;
  /** A backend header reports the real cost after the response (`limits.costs.header`). */
  readonly costReported: boolean;
  /** Concurrency lease lifetime, ms (renewed while the request runs). */
  readonly leaseMs: number;
}

/** Extra time a quota counter outlives its period, ms: a cost reported just after the boundary still lands on it. */
const QUOTA_TTL_SLACK_MS = 60_000;

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

/** This process's part of entry ids: 72 random bits, so two instances never make the same id. */
const ENTRY_PREFIX = randomBytes(9).toString('base64url');
let entryCount = 0;

/**
 * A unique id for a lease or a repeat entry: the process's random prefix and a counter (ids
 * need to be unique, not secret; drawing random bytes per request costs a system call).
 */
export function entryId(): string {
  return `${ENTRY_PREFIX}${(entryCount++).toString(36)}`;
}

/** Runs one rule against the store. Rejects when the store fails. */
export async function checkRule(rule: CompiledRule, subject: LimitSubject, c: CheckContext): Promise<Step> {
  const bucket = rule.bucket(subject);
  const { store, now } = c;
  switch (rule.kind) {
    case 'rate': {
      const { spec } = rule;
      const o = await store.rate(bucket, spec, 1, now);
      return {
        label: rule.id,
        allowed: o.allowed,
        reason: 'rate-limited',
        retryAfterMs: o.retryAfterMs,
        ...(rule.policy === undefined ? {} : { policy: rule.policy }),
        state: `"${rule.id}";r=${o.remaining};t=${seconds(o.allowed ? o.resetMs : o.retryAfterMs)}`,
        detail: `limit rule ${rule.id}: rate ${spec.limit} per ${spec.windowMs / 1000} s (burst ${spec.burst}) exceeded`,
        undo: () => store.refundRate(bucket, spec, 1, now),
      };
    }
    case 'quota': {
      const bounds = periodOf(rule.period, now);
      const period = String(bounds.start);
      // A call whose cost is reported afterwards needs at least one unit left.
      const need = c.costReported ? Math.max(c.cost, 1) : c.cost;
      const ttlMs = bounds.end - now + QUOTA_TTL_SLACK_MS;
      const o = await store.quota(bucket, period, rule.limit, c.cost, need, ttlMs, now);
      return {
        label: rule.id,
        allowed: o.allowed,
        reason: 'quota-exceeded',
        retryAfterMs: bounds.end - now,
        policy: `"${rule.id}";q=${rule.limit};w=${(bounds.end - bounds.start) / 1000}`,
        state: `"${rule.id}";r=${Math.max(0, Math.floor(rule.limit - o.used))};t=${seconds(bounds.end - now)}`,
        detail: `limit rule ${rule.id}: quota ${rule.limit} per ${rule.period} used up (${o.used} used, this call costs ${c.cost})`,
        ...(c.cost > 0 ? { undo: () => store.addQuota(bucket, period, -c.cost, ttlMs, now).then(() => undefined) } : {}),
        charge: { bucket, period, charged: c.cost, ttlMs },
      };
    }
    case 'concurrency': {
      const leaseId = entryId();
      const o = await store.acquire(bucket, rule.limit, leaseId, c.leaseMs, now);
      return {
        label: rule.id,
        allowed: o.allowed,
        reason: 'concurrency-limited',
        // Nobody knows when a slot frees: the client may try again in a second.
        retryAfterMs: 1000,
        ...(rule.policy === undefined ? {} : { policy: rule.policy }),
        state: `"${rule.id}";r=${o.allowed ? Math.max(0, rule.limit - o.count) : 0}`,
        detail: `limit rule ${rule.id}: ${rule.limit} concurrent requests already in flight`,
        undo: () => store.release(bucket, leaseId),
        lease: { bucket, leaseId },
      };
    }
  }
}

/** The runaway guard's settings (`limits.runaway`). */
export interface RunawaySettings {
  readonly repeats: number;
  readonly withinSeconds: number;
}

/**
 * The runaway guard: the same user, the same tool (HTTP: method and path) and the same argument
 * digest (HTTP: body digest) seen more than `repeats` times within `withinSeconds`.
 */
export async function checkRunaway(subject: LimitSubject, call: { what: string; digest: string }, settings: RunawaySettings, c: CheckContext): Promise<Step> {
  const bucket = bucketName('runaway', [`${subject.identity.issuer}\n${subject.identity.id}`, call.what, call.digest]);
  const member = entryId();
  const o = await c.store.repeat(bucket, settings.repeats, settings.withinSeconds * 1000, member, c.now);
  return {
    label: 'runaway',
    allowed: o.allowed,
    reason: 'runaway-agent',
    retryAfterMs: o.retryAfterMs,
    detail: `runaway guard: the same call ${o.count} times within ${settings.withinSeconds} s (limit ${settings.repeats})`,
    undo: () => c.store.forget(bucket, member),
  };
}
