/**
 * Approvals (docs/approvals.md): a request a policy rule holds until a person approves it. An
 * approval is bound to one exact request (user, client, tool or route, method, path and query,
 * and the digest of the arguments or body), is used at most once, and expires.
 */

/**
 * Where an approval stands. `expired` is never stored: a pending approval past `expiresAt`, or an
 * approved one past `usableUntil`, reads as expired.
 */
export type ApprovalState = 'pending' | 'approved' | 'denied' | 'used' | 'expired';

/** Who may decide an approval, fixed when it is requested. */
export interface ApproverSet {
  /** User ids (explicit ones, and the requester's manager from the directory when the rule asks for it). */
  readonly users: readonly string[];
  /** Anyone with one of these roles. */
  readonly roles: readonly string[];
  /** Anyone in one of these groups. */
  readonly groups: readonly string[];
}

/** What is asked for: one request waiting for a person. Times are ms since epoch. */
export interface ApprovalRequest {
  /** Random, URL-safe; also what the client retries with (`Behalf-Approval`). */
  readonly id: string;
  /** SHA-256 (base64url) of the bound request (approve/approval-binding.ts). */
  readonly binding: string;
  /** The policy rule that asked for the approval. */
  readonly ruleId: string;
  /** The requester (`Identity.id`). */
  readonly user: string;
  /** The acting client (LLM or agent), when the token names one. */
  readonly client?: string;
  /** What the request does, for people: `tool add_review` or `POST /api/hr/reviews/bob`. */
  readonly target: string;
  /** The arguments or body the approver is shown (bounded JSON text), when there are any. */
  readonly arguments?: string;
  /** The rule's reason, shown to approvers and to the requester. */
  readonly reason?: string;
  readonly approvers: ApproverSet;
  readonly createdAt: number;
  /** It waits for a decision until then. */
  readonly expiresAt: number;
  /** Once approved, it can be used for this long, ms. */
  readonly validMs: number;
}

/** An approval as stored, with its decision and use. */
export interface Approval extends ApprovalRequest {
  readonly state: ApprovalState;
  /** Who decided (a verified user id, or `admin-token` for a denial made with the admin token). */
  readonly decidedBy?: string;
  readonly decidedAt?: number;
  /** The approver's note, bounded. */
  readonly note?: string;
  /** Approved: it can be used until then. */
  readonly usableUntil?: number;
  readonly usedAt?: number;
}

/** What {@link ApprovalStore.decide} did. */
export type DecideOutcome = { readonly ok: true; readonly approval: Approval } | { readonly ok: false; readonly approval?: Approval };

/** Where approvals are kept: one instance (memory) or shared by every instance (Redis, PostgreSQL). */
export interface ApprovalStore {
  readonly kind: 'memory' | 'redis' | 'postgres';
  /**
   * Stores `request` as pending, unless an approval with the same binding is still open: pending
   * or denied and not past `expiresAt`, or approved and not used nor past `usableUntil`. Then it
   * returns that one and stores nothing (so a retried call never asks twice).
   */
  open(request: ApprovalRequest, now: number): Promise<{ approval: Approval; created: boolean }>;
  /** The approval, or undefined when unknown or dropped (kept until an hour after it ended). */
  get(id: string, now: number): Promise<Approval | undefined>;
  /** Approves or denies a pending, unexpired approval; `ok: false` with the approval as it stands otherwise. */
  decide(id: string, decision: 'approved' | 'denied', by: string, now: number, note?: string): Promise<DecideOutcome>;
  /**
   * Marks an approved approval used when its binding is `binding` and it is not past
   * `usableUntil`; returns it, or undefined. Of concurrent calls, exactly one gets it.
   */
  use(id: string, binding: string, now: number): Promise<Approval | undefined>;
  /** Every approval kept, newest first. */
  list(now: number): Promise<Approval[]>;
  /** Resolves when the store answers; rejects when it cannot be reached. */
  ping(): Promise<void>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}
