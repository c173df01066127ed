import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Prompt, Resource, ResourceTemplate } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.js';
import { isValidToolName } from '../tools/catalog.js';
import { retryListing } from './failure-kind.js';
import { compileTemplate } from './uri-template.js';

/**
 * What an upstream serves besides tools, as the gateway read it: its resources, resource
 * templates and prompts, and the capabilities it declared. Read at connection and again on each
 * `notifications/resources/list_changed` or `notifications/prompts/list_changed`.
 */

/** One resource an upstream listed; `wire` is what `resources/list` shows (the standard fields only). */
export interface ListedResource {
  readonly uri: string;
  readonly wire: Readonly<Record<string, unknown>>;
}

/** One resource template; `matches` tells whether a URI is one it produces. */
export interface ListedTemplate {
  readonly uriTemplate: string;
  readonly matches: (uri: string) => boolean;
  readonly wire: Readonly<Record<string, unknown>>;
}

/** One prompt, served as `<namespace>.<name>` like tools; `wire` carries the namespaced name. */
export interface ListedPrompt {
  readonly name: string;
  readonly upstreamName: string;
  readonly wire: Readonly<Record<string, unknown>>;
}

/** What an upstream declared it serves, beyond tools (from its `initialize` result). */
export interface UpstreamCapabilities {
  readonly resources: boolean;
  readonly subscribe: boolean;
  readonly prompts: boolean;
  readonly completions: boolean;
  readonly logging: boolean;
}

/** An upstream's resources, templates and prompts, with its capabilities. */
export interface UpstreamFeatureList {
  readonly capabilities: UpstreamCapabilities;
  readonly resources: readonly ListedResource[];
  readonly templates: readonly ListedTemplate[];
  readonly prompts: readonly ListedPrompt[];
}

export const NO_FEATURES: UpstreamFeatureList = Object.freeze({
  capabilities: Object.freeze({ resources: false, subscribe: false, prompts: false, completions: false, logging: false }),
  resources: Object.freeze([]),
  templates: Object.freeze([]),
  prompts: Object.freeze([]),
});

/** Bounds on one listing, so a misbehaving upstream cannot grow the gateway's memory without end. */
const MAX_PAGES = 100;
const MAX_ITEMS = 10_000;
/** Longest URI accepted from an upstream, characters. */
export const MAX_URI_LENGTH = 2_048;

const RESOURCE_FIELDS = ['uri', 'name', 'title', 'description', 'mimeType', 'size', 'annotations', 'icons'] as const;
const TEMPLATE_FIELDS = ['uriTemplate', 'name', 'title', 'description', 'mimeType', 'annotations', 'icons'] as const;
const PROMPT_FIELDS = ['title', 'description', 'arguments', 'icons'] as const;

function pick(from: object, fields: readonly string[], first?: Record<string, unknown>): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = { ...first };
  for (const f of fields) {
    const v = (from as Record<string, unknown>)[f];
    if (v !== undefined) out[f] = v;
  }
  return Object.freeze(out);
}

/** Every page of one list method, bounded (100 pages, 10,000 items, stopping at a repeated cursor). */
async function allPages<T>(page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>): Promise<T[]> {
  const items: T[] = [];
  const cursors = new Set<string>();
  let cursor: string | undefined;
  for (let n = 0; n < MAX_PAGES && items.length < MAX_ITEMS; n++) {
    const result = await page(cursor);
    items.push(...result.items);
    cursor = result.nextCursor;
    if (cursor === undefined || cursors.has(cursor)) break;
    cursors.add(cursor);
  }
  return items.slice(0, MAX_ITEMS);
}

/** What {@link listUpstreamFeatures} needs besides the session. */
export interface ListFeaturesOptions {
  /** Prompt name prefix; `''`: the upstream's own names. */
  readonly namespace: string;
  readonly log?: Logger;
  /** Items already reported as left out: each is logged once per connection. */
  readonly warned: Set<string>;
}

/**
 * Reads the upstream's capabilities and every page of its `resources/list`,
 * `resources/templates/list` and `prompts/list` (those it declared). Leaves out, and logs once: a
 * resource whose URI is over 2,048 characters or listed twice, a template the gateway cannot
 * match (see `templateParts`), a prompt whose name is not 1-128 of `A-Za-z0-9_.-` (or whose
 * namespaced name is not a valid name), or listed twice. A page whose request broke in transit
 * is asked for again (`retryListing`); a listing that still fails keeps nothing of that kind and
 * is logged; the others stand.
 *
 * This does NOT decide who sees what (policy does, per request) and does NOT pin resources or
 * prompts (only tools are pinned).
 */
export async function listUpstreamFeatures(client: Client, cfg: UpstreamConfig, opts: ListFeaturesOptions): Promise<UpstreamFeatureList> {
  const caps = client.getServerCapabilities() ?? {};
  const capabilities: UpstreamCapabilities = {
    resources: caps.resources !== undefined,
    subscribe: caps.resources?.subscribe === true,
    prompts: caps.prompts !== undefined,
    completions: caps.completions !== undefined,
    logging: caps.logging !== undefined,
  };
  const leaveOut = (kind: string, what: string, why: string) => {
    const key = `${kind} ${what.slice(0, 140)}`;
    if (!opts.warned.has(key) && opts.warned.size < MAX_ITEMS) opts.log?.warn({ [kind]: what.slice(0, 140), why }, `upstream ${kind} left out`);
    opts.warned.add(key);
  };
  const listing = async <T>(kind: string, run: () => Promise<T[]>): Promise<T[]> => {
    try {
      return await run();
    } catch (err) {
      opts.log?.warn({ kind, error: err instanceof Error ? err.name : 'error' }, 'upstream listing failed');
      return [];
    }
  };
  const timeout = { timeout: cfg.timeoutMs };

  const resources: ListedResource[] = [];
  const templates: ListedTemplate[] = [];
  if (capabilities.resources) {
    const seen = new Set<string>();
    const listed = await listing('resource', () => allPages<Resource>(async (cursor) => {
      const r = await retryListing(() => client.listResources(cursor === undefined ? {} : { cursor }, timeout));
      return { items: r.resources, nextCursor: r.nextCursor };
    }));
    for (const r of listed) {
      if (r.uri.length > MAX_URI_LENGTH) leaveOut('resource', r.uri, 'URI over 2048 characters');
      else if (seen.has(r.uri)) leaveOut('resource', r.uri, 'listed twice');
      else {
        seen.add(r.uri);
        resources.push({ uri: r.uri, wire: pick(r, RESOURCE_FIELDS) });
      }
    }
    const listedTemplates = await listing('template', () => allPages<ResourceTemplate>(async (cursor) => {
      const r = await retryListing(() => client.listResourceTemplates(cursor === undefined ? {} : { cursor }, timeout));
      return { items: r.resourceTemplates, nextCursor: r.nextCursor };
    }));
    const seenTemplates = new Set<string>();
    for (const t of listedTemplates) {
      const matches = compileTemplate(t.uriTemplate);
      if (matches === undefined) leaveOut('template', t.uriTemplate, 'not a URI template the gateway can match');
      else if (seenTemplates.has(t.uriTemplate)) leaveOut('template', t.uriTemplate, 'listed twice');
      else {
        seenTemplates.add(t.uriTemplate);
        templates.push({ uriTemplate: t.uriTemplate, matches, wire: pick(t, TEMPLATE_FIELDS) });
      }
    }
  }

  const prompts: ListedPrompt[] = [];
  if (capabilities.prompts) {
    const seen = new Set<string>();
    const listed = await listing('prompt', () => allPages<Prompt>(async (cursor) => {
      const r = await retryListing(() => client.listPrompts(cursor === undefined ? {} : { cursor }, timeout));
      return { items: r.prompts, nextCursor: r.nextCursor };
    }));
    for (const p of listed) {
      const name = opts.namespace === '' ? p.name : `${opts.namespace}.${p.name}`;
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(p.name) || !isValidToolName(name)) leaveOut('prompt', p.name, 'invalid name');
      else if (seen.has(p.name)) leaveOut('prompt', p.name, 'listed twice');
      else {
        seen.add(p.name);
        prompts.push({ name, upstreamName: p.name, wire: pick(p, PROMPT_FIELDS, { name }) });
      }
    }
  }
  return Object.freeze({ capabilities: Object.freeze(capabilities), resources: Object.freeze(resources), templates: Object.freeze(templates), prompts: Object.freeze(prompts) });
}
