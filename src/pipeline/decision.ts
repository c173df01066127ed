import type { Reason } from './reasons.js';

/** A stage lets the request through. `ruleId` names the policy rule that decided, when one did. */
export interface Allow {
  readonly allow: true;
  readonly reason: Reason;
  readonly ruleId?: string;
}

/**
 * A stage stops the request. This is a value, not an exception: stages throw only for bugs and
 * faults. `message` is the short generic text the client sees; `detail` is for the audit record
 * and logs only, and never holds a token or secret.
 */
export interface Deny {
  readonly allow: false;
  readonly reason: Reason;
  readonly status: number;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly ruleId?: string;
  readonly detail?: string;
  /** With reason `insufficient-scope`: every scope the operation needs (for the RFC 6750 challenge). */
  readonly requiredScopes?: readonly string[];
  /**
   * The JSON-RPC error code an upstream MCP server refused with, when it is one MCP defines for
   * the client too (resource not found, invalid params, method not found): the MCP door passes it on.
   */
  readonly upstreamCode?: number;
  /** With an approval reason: the approval the request waits for or was refused by (docs/approvals.md). */
  readonly approval?: { readonly id: string; readonly expiresAt: string; readonly url?: string };
}

export type Decision = Allow | Deny;

export function allow(reason: Reason, ruleId?: string): Allow {
  return ruleId === undefined ? { allow: true, reason } : { allow: true, reason, ruleId };
}

export function deny(
  status: number,
  reason: Reason,
  message: string,
  extra: { headers?: Record<string, string>; ruleId?: string; detail?: string; requiredScopes?: readonly string[]; upstreamCode?: number; approval?: Deny['approval'] } = {},
): Deny {
  return { allow: false, status, reason, message, ...extra };
}
