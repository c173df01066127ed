import type { Logger } from 'pino';
import type { ApprovalsConfig } from '../config/schema.js';
import { DEFAULTS } from '../config/defaults.js';
import type { Approval } from '../stores/types.js';
import { describeApprovers } from './approvers.js';

/** Pauses between webhook attempts, ms. */
const BACKOFF_MS = [1_000, 4_000];

/** Tells approvers of new requests through a Slack-compatible incoming webhook. */
export interface ApprovalNotifier {
  /** Sends in the background; never throws, never delays the request that asked. */
  announce(approval: Approval, url: string | undefined): void;
  /** Waits (at most `graceMs`) for sends in flight, then cancels the rest. */
  close(graceMs?: number): Promise<void>;
}

/** The message: who asks for what, under which rule, who may decide and where. Never the arguments (they may be personal data; approvers see them in the console or `behalf approvals show`). */
export function announcementText(a: Approval, url: string | undefined): string {
  const by = a.client === undefined ? a.user : `${a.user} (via ${a.client})`;
  const where = url ?? `behalf approvals show ${a.id}`;
  return [
    `Approval needed: ${by} asks to ${a.target}.`,
    `Rule ${a.ruleId}${a.reason === undefined ? '' : `: ${a.reason}`}.`,
    `Approvers: ${describeApprovers(a.approvers)}. Decide before ${new Date(a.expiresAt).toISOString()}: ${where}`,
  ].join('\n');
}

/**
 * A notifier posting `{"text": ..., "behalf": {id, user, client, target, ruleId, expiresAt, url}}`
 * to `config.webhook.url` (Slack and compatible chat tools read `text`). Each announcement is
 * tried up to 3 times (5 s each, 1 s then 4 s apart) on a network error, a 5xx or a 429; a 4xx is
 * final. Failures are logged without the URL (it often holds a secret).
 *
 * This does NOT guarantee delivery: approvers also find every waiting request in the console
 * and with `behalf approvals list`.
 */
export function createWebhookNotifier(webhook: NonNullable<ApprovalsConfig['webhook']>, logger: Logger, fetchImpl: typeof fetch = fetch): ApprovalNotifier {
  const inFlight = new Set<Promise<void>>();
  const stop = new AbortController();
  const send = async (a: Approval, url: string | undefined) => {
    const body = JSON.stringify({
      text: announcementText(a, url),
      behalf: { id: a.id, user: a.user, client: a.client, target: a.target, ruleId: a.ruleId, expiresAt: new Date(a.expiresAt).toISOString(), url },
    });
    for (let attempt = 0; attempt < DEFAULTS.approvalNotifyAttempts; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, BACKOFF_MS[attempt - 1] ?? 4_000).unref());
      if (stop.signal.aborted) return;
      let status = 0;
      try {
        const res = await fetchImpl(webhook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...webhook.headers },
          body,
          signal: AbortSignal.any([stop.signal, AbortSignal.timeout(DEFAULTS.approvalNotifyTimeoutMs)]),
        });
        status = res.status;
        await res.body?.cancel();
        if (res.ok) return;
        if (status < 500 && status !== 429) break;
      } catch {
        if (stop.signal.aborted) return;
      }
      logger.warn({ approval: a.id, attempt: attempt + 1, status }, 'approval webhook failed');
    }
    logger.error({ approval: a.id }, 'approval webhook gave up: approvers were not told (the request still waits in the console and `behalf approvals list`)');
  };
  return {
    announce(approval, url) {
      const p = send(approval, url).catch(() => {});
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    },
    async close(graceMs = 2_000) {
      if (inFlight.size > 0) await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, graceMs).unref())]);
      stop.abort();
    },
  };
}
