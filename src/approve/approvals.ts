import type { Logger } from 'pino';
import type { Config, RuleApproval } from '../config/schema.js';
import type { Metrics } from '../observe/metrics.js';
import { createMemoryApprovalStore } from '../stores/memory-approvals.js';
import { createPostgresApprovalStore } from '../stores/postgres-approvals.js';
import { isPostgresUrl } from '../stores/postgres-url.js';
import { createRedisApprovalStore } from '../stores/redis-approvals.js';
import type { Approval, ApprovalStore } from '../stores/types.js';
import { createWebhookNotifier, type ApprovalNotifier } from './notify-webhook.js';

/** Human approval for one gateway: the rules that ask for it, where approvals are kept, who is told. */
export interface Approvals {
  readonly store: ApprovalStore;
  /** The approval block of rule `ruleId`, when that rule asks for one. */
  ruleFor(ruleId: string): RuleApproval | undefined;
  /** Where approvers decide approval `id` (`approvals.url`), when configured. */
  urlFor(id: string): string | undefined;
  /** Tells approvers of a new request (the webhook, when configured), in the background. */
  announce(approval: Approval): void;
  /** Counts an approval event (`behalf_approval_events_total`). */
  count(event: 'requested' | 'approved' | 'denied' | 'used'): void;
  /** Closes the store and waits briefly for announcements in flight. */
  close(): Promise<void>;
}

/** Opens `config.approvals.store`: memory, or Redis or PostgreSQL shared by every instance. */
export function openApprovalStore(config: Config['approvals'], logger: Logger): ApprovalStore {
  if (config.store === 'memory') return createMemoryApprovalStore();
  if (isPostgresUrl(config.store)) return createPostgresApprovalStore(config.store, { logger });
  return createRedisApprovalStore(config.store, { keyPrefix: config.keyPrefix, logger });
}

/**
 * Human approval as configured: the rules with an `approval` block by id, the store (`store`,
 * or the one `approvals.store` names), and the webhook notifier when `approvals.webhook` is set.
 */
export function createApprovals(config: Config, opts: { logger: Logger; store?: ApprovalStore; metrics?: Pick<Metrics, 'approvalEvents'> }): Approvals {
  const rules = new Map<string, RuleApproval>();
  for (const rule of config.policies) if (rule.approval !== undefined) rules.set(rule.id, rule.approval);
  const store = opts.store ?? openApprovalStore(config.approvals, opts.logger);
  const webhook = config.approvals.webhook;
  const notifier: ApprovalNotifier | undefined = webhook === undefined ? undefined : createWebhookNotifier(webhook, opts.logger);
  const urlFor = (id: string) => config.approvals.url?.replaceAll('{id}', encodeURIComponent(id));
  return {
    store,
    ruleFor: (ruleId) => rules.get(ruleId),
    urlFor,
    announce(approval) {
      opts.logger.info({ approval: approval.id, user: approval.user, rule: approval.ruleId }, 'approval requested');
      opts.metrics?.approvalEvents.inc({ event: 'requested' });
      notifier?.announce(approval, urlFor(approval.id));
    },
    count(event) {
      opts.metrics?.approvalEvents.inc({ event });
    },
    async close() {
      await notifier?.close();
      await store.close();
    },
  };
}
