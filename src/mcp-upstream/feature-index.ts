import type { Logger } from 'pino';
import type { ListedPrompt, ListedResource, ListedTemplate, UpstreamFeatureList } from './features.js';
import type { UpstreamRequester } from './requests.js';

/**
 * Every upstream's resources, templates and prompts in one index the door routes by: which
 * upstream serves a URI, a template or a prompt name. Resource URIs are served as the upstreams
 * list them (not rewritten), so a URI an upstream put in a tool result or a prompt is the URI a
 * client reads; prompts are namespaced like tools (`hr.review_summary`).
 */

/** The upstream that serves something, and how to send it a request. */
export interface ServingUpstream {
  readonly id: string;
  readonly request: UpstreamRequester;
  /** It declared `resources.subscribe`. */
  readonly subscribe: boolean;
}

/** A listed resource with the upstream that serves it. */
export interface ServedResource extends ListedResource {
  readonly upstream: ServingUpstream;
}

/** A resource template with the upstream that serves it. */
export interface ServedTemplate extends ListedTemplate {
  readonly upstream: ServingUpstream;
}

/** A prompt with the upstream that serves it (`name` namespaced, `upstreamName` the upstream's own). */
export interface ServedPrompt extends ListedPrompt {
  readonly upstream: ServingUpstream;
}

/** What the door serves besides tools: the union of the upstreams' capabilities (as last listed). */
export interface ServedCapabilities {
  readonly resources: boolean;
  readonly subscribe: boolean;
  readonly prompts: boolean;
  readonly completions: boolean;
  readonly logging: boolean;
}

/** The index (immutable; a new one is built when an upstream's listing changes). */
export interface UpstreamFeatures {
  readonly capabilities: ServedCapabilities;
  /** Every resource, upstreams in config order, each upstream's in its order. */
  readonly resources: readonly ServedResource[];
  readonly templates: readonly ServedTemplate[];
  readonly prompts: readonly ServedPrompt[];
  /**
   * The upstream that serves `uri`: the one that listed it exactly, else the first (config order)
   * with a template that produces it, else the upstream served under its own names
   * (`namespace: ""`) if it serves resources: a gateway fronting one server answers for any URI
   * as that server would. Undefined when none does. `listed` is true only for an exact listing.
   */
  ownerOf(uri: string): { readonly upstream: ServingUpstream; readonly listed: boolean } | undefined;
  /** The template whose `uriTemplate` is exactly this string. */
  template(uriTemplate: string): ServedTemplate | undefined;
  /** The prompt of this exact (namespaced) name. */
  prompt(name: string): ServedPrompt | undefined;
}

/** One upstream's part of the index. */
export interface IndexInput {
  readonly upstream: ServingUpstream;
  readonly features: UpstreamFeatureList;
  /** Served under its own names (`namespace: ""`): it answers for URIs nobody lists. */
  readonly unprefixed?: boolean;
}

/**
 * Builds the index from the upstreams in config order. A URI listed by two upstreams, a template
 * listed by two, or a prompt name two upstreams serve, goes to the first; the later ones are left
 * out and logged (once per index).
 *
 * This does NOT decide who may use what (policy does); lookups are by exact string through
 * `Map`s, so `__proto__` or `toString` are just unknown names.
 */
export function buildUpstreamIndex(inputs: readonly IndexInput[], logger?: Logger): UpstreamFeatures {
  const resources: ServedResource[] = [];
  const templates: ServedTemplate[] = [];
  const prompts: ServedPrompt[] = [];
  const byUri = new Map<string, ServedResource>();
  const byTemplate = new Map<string, ServedTemplate>();
  const byPrompt = new Map<string, ServedPrompt>();
  const caps = { resources: false, subscribe: false, prompts: false, completions: false, logging: false };
  const fallback = inputs.find((i) => i.unprefixed === true && i.features.capabilities.resources)?.upstream;
  const clash = (kind: string, what: string, upstream: string, heldBy: string) =>
    logger?.error({ [kind]: what.slice(0, 140), upstream, heldBy }, `upstream ${kind} left out: another upstream serves it`);

  for (const { upstream, features } of inputs) {
    const c = features.capabilities;
    caps.resources ||= c.resources;
    caps.subscribe ||= c.subscribe;
    caps.prompts ||= c.prompts;
    caps.completions ||= c.completions;
    caps.logging ||= c.logging;
    for (const r of features.resources) {
      const held = byUri.get(r.uri);
      if (held !== undefined) clash('resource', r.uri, upstream.id, held.upstream.id);
      else {
        const served = Object.freeze({ ...r, upstream });
        byUri.set(r.uri, served);
        resources.push(served);
      }
    }
    for (const t of features.templates) {
      const held = byTemplate.get(t.uriTemplate);
      if (held !== undefined) clash('template', t.uriTemplate, upstream.id, held.upstream.id);
      else {
        const served = Object.freeze({ ...t, upstream });
        byTemplate.set(t.uriTemplate, served);
        templates.push(served);
      }
    }
    for (const p of features.prompts) {
      const held = byPrompt.get(p.name);
      if (held !== undefined) clash('prompt', p.name, upstream.id, held.upstream.id);
      else {
        const served = Object.freeze({ ...p, upstream });
        byPrompt.set(p.name, served);
        prompts.push(served);
      }
    }
  }

  return Object.freeze({
    capabilities: Object.freeze(caps),
    resources: Object.freeze(resources),
    templates: Object.freeze(templates),
    prompts: Object.freeze(prompts),
    ownerOf(uri: string) {
      const listed = byUri.get(uri);
      if (listed !== undefined) return { upstream: listed.upstream, listed: true };
      const t = templates.find((x) => x.matches(uri));
      if (t !== undefined) return { upstream: t.upstream, listed: false };
      return fallback === undefined ? undefined : { upstream: fallback, listed: false };
    },
    template: (uriTemplate: string) => byTemplate.get(uriTemplate),
    prompt: (name: string) => byPrompt.get(name),
  });
}

/** The index when no upstream serves anything but tools. */
export const EMPTY_INDEX: UpstreamFeatures = buildUpstreamIndex([]);
