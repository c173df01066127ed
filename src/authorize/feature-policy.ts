import type { DirectoryEntry, Identity } from '../authenticate/identity.js';
import type { DirectorySnapshot } from '../resolve/directory.js';
import type { PolicyInput } from './policy.js';

/**
 * The policy inputs for what upstream MCP servers serve besides tools: resources (read,
 * subscribe, list), resource templates (list, completion) and prompts (get, list, completion).
 * Using them and the tool's (tool-listing.ts) as the only ways to build an MCP input keeps a
 * list and the request it offers decided on the same facts. Like a tool call: method `POST`, the
 * endpoint's path, no route.
 *
 * | request | match field | `body` | decided by |
 * |---|---|---|---|
 * | `resources/read`, `resources/subscribe`, a resource in `resources/list` | `resources` (the URI) | `{ uri }` | `decide` |
 * | a template in `resources/templates/list`, its `completion/complete` | `resources` (could some URI of the template match) | unknown | `listDecision` |
 * | `prompts/get` | `prompts` | the arguments | `decide` |
 * | a prompt in `prompts/list`, its `completion/complete` | `prompts` | unknown | `listDecision` |
 *
 * So a listed resource is readable and an unlisted one is not (the same `decide`), and a listed
 * prompt or template is one some request could use.
 */

/** Who asks, and the endpoint path. */
export interface FeaturePolicyRequest {
  readonly identity: Identity;
  readonly user?: DirectoryEntry;
  readonly directory: DirectorySnapshot;
  /** The MCP endpoint's path as received (e.g. `/mcp`). */
  readonly path: string;
}

function base(r: FeaturePolicyRequest): Pick<PolicyInput, 'identity' | 'user' | 'directory' | 'method' | 'path'> {
  return { identity: r.identity, ...(r.user === undefined ? {} : { user: r.user }), directory: r.directory, method: 'POST', path: r.path };
}

/** Reading (or subscribing to, or listing) the resource `uri`: CEL's `body.uri` is the URI. */
export function resourcePolicyInput(r: FeaturePolicyRequest, uri: string): PolicyInput {
  return { ...base(r), resource: uri, body: { uri } };
}

/** Listing (or completing an argument of) the resource template `uriTemplate`: the URI is not known yet. */
export function templatePolicyInput(r: FeaturePolicyRequest, uriTemplate: string): PolicyInput {
  return { ...base(r), resource: uriTemplate, resourceTemplate: true, body: null };
}

/** Getting the prompt `name` with `args` (CEL's `body`), or listing it / completing an argument (no `args`). */
export function promptPolicyInput(r: FeaturePolicyRequest, name: string, args?: Readonly<Record<string, unknown>>): PolicyInput {
  return { ...base(r), prompt: name, body: args ?? null };
}
