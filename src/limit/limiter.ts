import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/schema.js';
import { deny, type Deny } from '../pipeline/decision.js';
import type { Metrics } from '../observe/metrics.js';
import type { LimitStore } from '../stores/types.js';
import { checkRule, checkRunaway, type CheckContext, type Step } from './checks.js';
import { compileRules, type LimitSubject } from './rules.js';
import { DEFAULTS } from '../config/defaults.js';

/**
 * The limiter: runs every rule that applies to a request against the store, all at once (one
 * round trip on Redis when the rules' scripts share a pipeline), and combines the outcomes into
 * one verdict. A request refused by one rule gives back what the others took, so a refused call
 * costs no rate unit, no quota and no slot.
 */

/** A request as the limiter sees it. */
export interface LimitRequest extends LimitSubject {
  /** For the runaway guard: what was called (tool name; HTTP: method and path) and the digest of its arguments (HTTP: body). */
  readonly call?: { readonly what: string; readonly digest: string };
}

/** What an allowed request holds until its response ends. */
export interface LimitLease {
  /**
   * Releases concurrency slots and, for quotas with `limits.costs.header`, charges the cost the
   * backend reported (`reportedCost`, units; absent or invalid: the up-front cost stands).
   * Idempotent: only the first call counts.
   */
  settle(reportedCost?: number): void;
}

/** The limiter's answer. */
export type LimitVerdict =
  | {
      readonly allow: true;
      /** `RateLimit-Policy` and `RateLimit` for the response (empty when no rule applied). */
      readonly headers: Readonly<Record<string, string>>;
      /** Present when something must happen at the end of the response. */
      readonly lease?: LimitLease;
      /** Set when the store failed and `limits.onStoreError: allow` let the request through. */
      readonly detail?: string;
    }
  | { readonly allow: false; readonly decision: Deny };

/** The limit stage's engine, built once per gateway. */
export interface Limiter {
  /** False when no rule and no runaway guard are configured: the stage then does nothing. */
  readonly active: boolean;
  /** `limits.costs.header`, lower case, when configured. */
  readonly costHeader?: string;
  readonly store: LimitStore;
  /** Runs the checks. Never rejects: a store failure follows `limits.onStoreError`. */
  check(req: LimitRequest): Promise<LimitVerdict>;
}

/** Options of {@link createLimiter}. */
export interface LimiterOptions {
  /** Wall clock, ms since epoch (default `Date.now`). */
  now?: () => number;
  metrics?: Metrics;
  logger?: Logger;
  /** Concurrency lease lifetime, ms (default 30 000); leases are renewed every third of it while the request runs. */
  leaseMs?: number;
}

/** Default concurrency lease, ms: how long a crashed instance's slots stay taken. */
export const DEFAULT_LEASE_MS = DEFAULTS.limitLeaseMs;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const ALLOW_UNLIMITED: LimitVerdict = Object.freeze({ allow: true, headers: NO_HEADERS });

/**
 * Builds the limiter from `limits`.
 *
 * This does NOT check who the caller is or where the subject's fields come from (the stage
 * builds them from the verified identity and the resolved route or tool), and does NOT write
 * any response: it returns the headers and the denial for the stage to use.
 */
export function createLimiter(limits: LimitsConfig, store: LimitStore, opts: LimiterOptions = {}): Limiter {
  const rules = compileRules(limits.rules);
  const runaway = limits.runaway;
  const clock = opts.now ?? Date.now;
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const costHeader = limits.costs.header?.toLowerCase();
  const { metrics, logger } = opts;
  let failing = false;

  const storeFailed = (err: unknown) => {
    metrics?.limitStoreErrors.inc();
    if (failing) return;
    failing = true;
    metrics?.limitStoreUnhealthy.set(1);
    logger?.warn({ err: { name: (err as Error).name, message: (err as Error).message }, onStoreError: limits.onStoreError }, 'limit store failing');
  };
  const storeAnswered = () => {
    if (!failing) return;
    failing = false;
    metrics?.limitStoreUnhealthy.set(0);
    logger?.info('limit store answering again');
  };
  const undoAll = (steps: readonly Step[]) =>
    Promise.all(steps.map((s) => (s.allowed && s.undo !== undefined ? s.undo().catch(storeFailed) : undefined))).then(() => undefined);

  const costOf = (tool: string | undefined): number =>
    tool !== undefined && Object.hasOwn(limits.costs.tools, tool) ? limits.costs.tools[tool]! : 1;

  const check = async (req: LimitRequest): Promise<LimitVerdict> => {
    const matched = rules.filter((r) => r.applies(req));
    const guard = runaway !== undefined && req.call !== undefined;
    if (matched.length === 0 && !guard) return ALLOW_UNLIMITED;
    const c: CheckContext = { store, now: clock(), cost: costOf(req.tool), costReported: costHeader !== undefined, leaseMs };
    const pending = matched.map((rule) => checkRule(rule, req, c));
    if (guard) pending.push(checkRunaway(req, req.call!, runaway, c));
    const results = await Promise.allSettled(pending);
    const steps = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));

    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      storeFailed(failed.reason);
      for (const rule of matched) metrics?.countLimitDecision(rule.id, 'error');
      if (guard) metrics?.countLimitDecision('runaway', 'error');
      // Do not make the request wait on a store that is failing: give back in the background.
      void undoAll(steps);
      const message = failed.reason instanceof Error ? failed.reason.message : 'limit store failed';
      if (limits.onStoreError === 'deny') {
        return { allow: false, decision: deny(503, 'limit-store-unavailable', 'service unavailable', { detail: message, headers: { 'retry-after': '1' } }) };
      }
      return { allow: true, headers: NO_HEADERS, detail: `limits not applied (limits.onStoreError: allow): ${message}` };
    }
    storeAnswered();

    for (const s of steps) metrics?.countLimitDecision(s.label, s.allowed ? 'allow' : 'deny');
    const headers = rateLimitHeaders(steps);
    const refused = steps.filter((s) => !s.allowed);
    if (refused.length > 0) {
      await undoAll(steps);
      // The runaway guard says the most about what is going on; otherwise the longest wait wins.
      const worst = refused.find((s) => s.reason === 'runaway-agent') ?? refused.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a));
      const retryAfter = Math.max(1, Math.ceil(Math.max(...refused.map((s) => s.retryAfterMs)) / 1000));
      return {
        allow: false,
        decision: deny(429, worst.reason, 'too many requests', {
          ruleId: worst.label,
          detail: worst.detail,
          headers: { ...headers, 'retry-after': String(retryAfter) },
        }),
      };
    }
    const leases = steps.flatMap((s) => (s.lease === undefined ? [] : [s.lease]));
    const charges = costHeader === undefined ? [] : steps.flatMap((s) => (s.charge === undefined ? [] : [s.charge]));
    if (leases.length === 0 && charges.length === 0) return { allow: true, headers };

    let settled = false;
    const renewal =
      leases.length === 0
        ? undefined
        : setInterval(() => {
            const now = clock();
            for (const l of leases) store.renew(l.bucket, l.leaseId, leaseMs, now).catch(storeFailed);
          }, Math.max(1, Math.floor(leaseMs / 3)));
    renewal?.unref();
    const lease: LimitLease = {
      settle(reportedCost) {
        if (settled) return;
        settled = true;
        if (renewal !== undefined) clearInterval(renewal);
        for (const l of leases) store.release(l.bucket, l.leaseId).catch(storeFailed);
        if (reportedCost === undefined || !Number.isFinite(reportedCost) || reportedCost < 0) return;
        const now = clock();
        for (const ch of charges) {
          const delta = reportedCost - ch.charged;
          if (delta !== 0) store.addQuota(ch.bucket, ch.period, delta, ch.ttlMs, now).catch(storeFailed);
        }
      },
    };
    return { allow: true, headers, lease };
  };

  return { active: rules.length > 0 || runaway !== undefined, ...(costHeader === undefined ? {} : { costHeader }), store, check };
}

/** The `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers) of the steps that have them. */
function rateLimitHeaders(steps: readonly Step[]): Readonly<Record<string, string>> {
  const policies = steps.flatMap((s) => (s.policy === undefined ? [] : [s.policy]));
  const states = steps.flatMap((s) => (s.state === undefined ? [] : [s.state]));
  if (policies.length === 0) return NO_HEADERS;
  return { 'ratelimit-policy': policies.join(', '), ratelimit: states.join(', ') };
}

/**
 * Reads a backend's cost header value: a non-negative decimal number of units. Anything else
 * (absent, several values, negative, not a number) is `undefined`: the up-front cost stands.
 */
export function parseCost(value: number | string | readonly string[] | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return undefined;
  return Number(value);
}
