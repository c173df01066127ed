import type { DirectoryEntry, Identity } from '../authenticate/identity.js';
import type { DirectorySnapshot } from '../resolve/directory.js';
import type { CatalogTool, ToolCatalog } from '../tools/types.js';
import type { Policy, PolicyInput } from './policy.js';

/**
 * One decision for listing and calling: `tools/list` shows a tool to a user iff the policy that
 * decides `tools/call` could allow some call to it. This file holds the inputs both use, the
 * listing filter, and the analysis of a condition when the arguments are not known yet.
 */

/** What a tool call (or a listing) is decided on. */
export interface ToolPolicyRequest {
  readonly identity: Identity;
  readonly user?: DirectoryEntry;
  readonly directory: DirectorySnapshot;
  /** The MCP endpoint's path as received (e.g. `/mcp`): CEL's `request.path`. */
  readonly path: string;
  readonly tool: string;
  /** The validated arguments (CEL's `body`); absent when listing. */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/**
 * The policy input for a tool: method `POST` (what an MCP request is; `behalf policy test`
 * uses the same for tool cases), the endpoint path, the tool, no route, and the arguments as
 * `body`. `tools/call` and `tools/list` must both build their input here so they are decided on
 * the same facts.
 */
export function toolPolicyInput(r: ToolPolicyRequest): PolicyInput {
  return {
    identity: r.identity,
    ...(r.user === undefined ? {} : { user: r.user }),
    directory: r.directory,
    tool: r.tool,
    method: 'POST',
    path: r.path,
    body: r.arguments ?? null,
  };
}

/**
 * Whether `tools/list` shows the tool to this user. See `Policy.canList` for the semantics.
 *
 * This does NOT allow a call: every `tools/call` is decided again by `policy.decide` with the
 * real arguments. A listed tool may still refuse some arguments (Bob sees `get_reviews` but gets
 * only his own); a hidden tool is one that no arguments could make callable.
 */
export function canList(policy: Policy, request: Omit<ToolPolicyRequest, 'arguments'>): boolean {
  return policy.canList(toolPolicyInput(request));
}

/**
 * The tools `tools/list` shows this user, in catalog order: not `blocked` by pinning, and
 * {@link canList}. `base` is the request without the tool.
 *
 * This does NOT check that the tools' sources are reachable, nor paginate.
 */
export function listableTools(policy: Policy, catalog: ToolCatalog, base: Omit<ToolPolicyRequest, 'arguments' | 'tool'>): CatalogTool[] {
  return catalog.list().filter((t) => t.pin !== 'blocked' && canList(policy, { ...base, tool: t.definition.name }));
}
