import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { headerName } from './schema-fields.js';
import { redisKeyPrefix } from './schema-operations.js';

/**
 * Human approval (docs/approvals.md): the `approval` block of a policy rule, and the
 * `approvals` section (where approvals are kept, who is told). Part of the one schema in
 * schema.ts, which re-exports them.
 */

/** Who may approve a request a rule holds. At least one source must be given. */
export const approversSchema = z
  .strictObject({
    /** The requester's manager, from the directory (an entry without a manager adds nobody). */
    manager: z.boolean().default(false),
    /** These users, by id (`Identity.id`). */
    users: z.array(z.string().min(1).max(256)).default([]),
    /** Anyone whose token carries one of these roles. */
    roles: z.array(z.string().min(1)).default([]),
    /** Anyone whose token carries one of these groups. */
    groups: z.array(z.string().min(1)).default([]),
  })
  .refine((a) => a.manager || a.users.length > 0 || a.roles.length > 0 || a.groups.length > 0, 'name at least one approver: manager, users, roles or groups');

/** A rule's `approval`: the request it allows waits until a person approves it. */
export const ruleApprovalSchema = z.strictObject({
  approvers: approversSchema,
  /** How long the request waits for a decision, s (default 900: 15 min). */
  timeoutSeconds: z.number().int().min(10).max(7 * 86_400).default(DEFAULTS.approvalTimeoutSeconds),
  /** Once approved, how long the same request may be retried (once), s (default 600: 10 min). */
  validSeconds: z.number().int().min(10).max(86_400).default(DEFAULTS.approvalValidSeconds),
  /** Why, shown to the approver and to the requester. */
  reason: z.string().min(1).max(500).optional(),
});

/** Where approvals are kept and who is told of a new one. */
export const approvalsSchema = z.strictObject({
  /** `memory` (one instance; a restart forgets pending approvals) or a `redis://` URL (shared by every instance). */
  store: z.string().regex(/^(memory|rediss?:\/\/.+)$/, 'must be "memory" or a redis:// URL').default(DEFAULTS.approvalStore),
  keyPrefix: redisKeyPrefix.default(DEFAULTS.approvalKeyPrefix),
  /**
   * Where approvers decide, shown to the requester: `{id}` is replaced by the approval id (e.g.
   * `https://behalf-admin.example.test/approvals/{id}`). Absent: the message names the id and the CLI.
   */
  url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL').optional(),
  /** A Slack-compatible incoming webhook (`{"text": ...}`) told of every new approval request. */
  webhook: z
    .strictObject({
      url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
      /** Extra request headers, e.g. `Authorization: "Bearer ${WEBHOOK_TOKEN}"`. */
      headers: z.record(headerName, z.string()).default({}),
    })
    .optional(),
});
