import type { Logger } from 'pino';
import type { ApprovalsConfig } from '../config/schema.js';
import { DEFAULTS } from '../config/defaults.js';
import type { Approval } from '../stores/types.js';
import { SinkPump } from '../audit/sink-pump.js';
import { createWebhookSender } from '../audit/webhook-sink.js';
import { describeApprovers } from './approvers.js';


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
 * to `config.webhook.url` (Slack and compatible chat tools read `text`), one announcement per
 * request, through the audit sinks' delivery loop (`SinkPump`: a bounded queue that never blocks,
 * retries with backoff, jitter and Retry-After on a network error, a timeout, 408, 429 or 5xx; any
 * other status is final) and sender (`createWebhookSender`, which never logs the URL or a header).
 *
 * This does NOT guarantee delivery: approvers also find every waiting request in the queue
 * (`behalf approvals list`, the admin API).
 */
export function createWebhookNotifier(webhook: NonNullable<ApprovalsConfig['webhook']>, logger: Logger): ApprovalNotifier {
  const sender = createWebhookSender({ url: webhook.url, headers: webhook.headers, timeoutMs: DEFAULTS.approvalNotifyTimeoutMs }, { json: true });
  const pump = new SinkPump<string>({
    batchMaxRecords: 1,
    flushMs: 0,
    maxQueue: DEFAULTS.approvalNotifyQueue,
    retryMinMs: 1_000,
    retryMaxMs: 30_000,
    retryAfterMaxMs: 300_000,
    send: (batch, signal) => sender.send(batch, signal),
    onFailing: (reason) => {
      if (reason !== undefined) logger.warn({ reason }, 'approval webhook failing; retrying');
    },
    onDropped: (count, why) => logger.error({ count, why }, 'approval webhook gave up on announcements: approvers were not told (the requests still wait in `behalf approvals list`)'),
  });
  return {
    announce(a, url) {
      pump.offer(JSON.stringify({
        text: announcementText(a, url),
        behalf: { id: a.id, user: a.user, client: a.client, target: a.target, ruleId: a.ruleId, expiresAt: new Date(a.expiresAt).toISOString(), url },
      }));
    },
    async close(graceMs = 2_000) {
      await pump.close(graceMs);
      await sender.close();
    },
  };
}
