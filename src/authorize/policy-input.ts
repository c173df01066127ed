import type { DirectoryEntry, Identity } from '../authenticate/identity.js';
import type { CanonicalQuery } from '../lib/canonical-query.js';
import type { DirectorySnapshot } from '../resolve/directory.js';
import type { ConditionVariables } from './condition.js';
import { NO_PARAMS, type PathParams } from './path-pattern.js';

/** Everything a policy decision may depend on. Built by the authorize stage (or `behalf policy test`). */
export interface PolicyInput {
  /** The verified caller. */
  readonly identity: Identity;
  /** The caller's directory entry, joined by the resolve stage; absent when there is none. */
  readonly user?: DirectoryEntry;
  /** The snapshot taken for this request (its `celValue` is CEL's `directory`). */
  readonly directory: DirectorySnapshot;
  /** Route id, for requests through an HTTP route. */
  readonly route?: string;
  /** Tool name, for MCP tool calls. */
  readonly tool?: string;
  /**
   * MCP resource URI (read, subscribe, listing), matched by `match.resources`. With
   * `resourceTemplate`, an RFC 6570 template (`hr://reviews/{employee}`) being listed: a pattern
   * then applies when some URI the template can produce could match it.
   */
  readonly resource?: string;
  readonly resourceTemplate?: boolean;
  /** MCP prompt name (namespaced), matched by `match.prompts`. */
  readonly prompt?: string;
  /** HTTP method (any case; compared upper-case). */
  readonly method: string;
  /** Gateway path as received, percent-encoded, without the query. */
  readonly path: string;
  /**
   * Query parameters. The gateway passes the one reading screen(in) made (`CanonicalQuery`):
   * CEL's `request.query` holds the names given once, `request.queryAll` every name with all its
   * values (a list). From `URLSearchParams` or a record (library callers), `request.query` holds
   * the first value of each name and `request.queryAll` every value.
   */
  readonly query?: CanonicalQuery | URLSearchParams | Readonly<Record<string, string>>;
  /** Parsed JSON body, or null/undefined when there is none. */
  readonly body?: unknown;
}

/**
 * CEL's `user`: the identity's claims, then the directory attributes. The token's own `email` and
 * `name` win over the directory's (they were just verified); `manager`, `department` and `title`
 * come only from the directory, and `reports`/`team` are empty lists without an entry.
 * Absent values are left out, so `has(user.manager)` is false rather than an error.
 */
export function celUser(identity: Identity, entry: DirectoryEntry | undefined): Record<string, unknown> {
  // Plain property stores in a fixed order (not a helper taking the key) keep object shapes stable.
  const user: Record<string, unknown> = {
    id: identity.id,
    issuer: identity.issuer,
    roles: identity.roles,
    groups: identity.groups,
    scopes: identity.scopes,
    reports: entry?.reports ?? [],
    team: entry?.team ?? [],
  };
  if (identity.tenant !== undefined) user.tenant = identity.tenant;
  if (identity.client !== undefined) user.client = identity.client;
  const email = identity.email ?? entry?.email;
  if (email !== undefined) user.email = email;
  const name = identity.name ?? entry?.name;
  if (name !== undefined) user.name = name;
  if (entry?.manager !== undefined) user.manager = entry.manager;
  if (entry?.department !== undefined) user.department = entry.department;
  if (entry?.title !== undefined) user.title = entry.title;
  return user;
}

/** CEL's `request`, without `params` (those depend on which rule's path pattern matched). */
export function celRequest(input: PolicyInput, method: string): Record<string, unknown> {
  const query = input.query;
  const canonical = query !== undefined && isCanonical(query);
  const request: Record<string, unknown> = {
    method,
    path: input.path,
    query: canonical ? query.single : queryMap(query),
    queryAll: canonical ? query.all : queryAllMap(query),
    params: NO_PARAMS,
  };
  if (input.route !== undefined) request.route = input.route;
  if (input.tool !== undefined) request.tool = input.tool;
  if (input.prompt !== undefined) request.prompt = input.prompt;
  return request;
}

/**
 * The CEL variables for one request, built on first use only: most requests are decided by rules
 * without a condition and never pay for this.
 */
export class LazyVariables {
  readonly #input: PolicyInput;
  readonly #method: string;
  #base: ConditionVariables | undefined;

  constructor(input: PolicyInput, method: string) {
    this.#input = input;
    this.#method = method;
  }

  /** The variables with `request.params` set to `params`. */
  with(params: PathParams): ConditionVariables {
    this.#base ??= {
      user: celUser(this.#input.identity, this.#input.user),
      request: celRequest(this.#input, this.#method),
      body: this.#input.body ?? null,
      directory: this.#input.directory.celValue,
    };
    if (params === NO_PARAMS) return this.#base;
    return { ...this.#base, request: { ...this.#base.request, params } };
  }
}

function isCanonical(query: NonNullable<PolicyInput['query']>): query is CanonicalQuery {
  return !(query instanceof URLSearchParams) && query.single instanceof Map && query.all instanceof Map;
}

// A Map, not an object: a query name such as "__proto__" must be just a key.
function queryAllMap(query: Exclude<PolicyInput['query'], CanonicalQuery>): ReadonlyMap<string, readonly string[]> {
  const out = new Map<string, string[]>();
  if (query === undefined) return out;
  const pairs = query instanceof URLSearchParams ? query : Object.entries(query);
  for (const [k, v] of pairs) {
    const list = out.get(k);
    if (list === undefined) out.set(k, [v]);
    else list.push(v);
  }
  return out;
}

function queryMap(query: Exclude<PolicyInput['query'], CanonicalQuery>): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  if (query === undefined) return out;
  const pairs = query instanceof URLSearchParams ? query : Object.entries(query);
  for (const [k, v] of pairs) if (!out.has(k)) out.set(k, v);
  return out;
}
