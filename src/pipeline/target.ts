import type { RouteConfig } from '../config/schema.js';
import type { ServedPrompt, ServedTemplate, ServingUpstream } from '../mcp-upstream/feature-index.js';
import type { CatalogTool } from '../tools/types.js';

/**
 * What a request asks for, whatever door it came in by: the one typed record every stage reads.
 * A door's parser fills in what the client named (`describe`); resolve then finds what the name
 * means (the route, the catalog tool, the upstream that serves a resource or prompt) and fills in
 * the `resolved` part. Policy, limits, forward and the audit record read nothing else about the
 * request's purpose, so a decision is the same whatever wire format carried it.
 */
export type Target = RouteTarget | ToolTarget | ResourceTarget | PromptTarget | CompletionTarget | MessageTarget;

/** An HTTP request to a configured route (the HTTP door). */
export interface RouteTarget {
  readonly kind: 'route';
  readonly route: RouteConfig;
}

/** A tool call: the tool by its catalog name, and its arguments (an object). */
export interface ToolTarget {
  readonly kind: 'tool';
  /** The name asked for, exactly as sent. */
  readonly name: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** Bytes of the arguments' JSON text as the client sent it (the door measures it while parsing), for the tool's bound. */
  readonly argumentsBytes?: number;
  /** Set by resolve: the catalog entry the name is. */
  tool?: CatalogTool;
}

/** Reading, subscribing to or unsubscribing from a resource by URI. */
export interface ResourceTarget {
  readonly kind: 'resource';
  readonly operation: 'read' | 'subscribe' | 'unsubscribe';
  readonly uri: string;
  /** Set by resolve: the upstream that serves the URI (none for an unsubscribe from one nobody serves any more). */
  upstream?: ServingUpstream;
}

/** Getting a prompt by its (namespaced) name, with its arguments (strings). */
export interface PromptTarget {
  readonly kind: 'prompt';
  readonly name: string;
  readonly arguments: Readonly<Record<string, string>>;
  /** Set by resolve. */
  prompt?: ServedPrompt;
}

/** Completing an argument of a prompt (by name) or of a resource template (by its exact URI template). */
export interface CompletionTarget {
  readonly kind: 'completion';
  readonly ref: { readonly kind: 'prompt'; readonly name: string } | { readonly kind: 'template'; readonly uri: string };
  /** The argument being completed, and the value typed so far. */
  readonly argument: { readonly name: string; readonly value: string };
  /** The other arguments already given (strings only), when the client sent any. */
  readonly given?: Readonly<Record<string, string>>;
  /** Set by resolve: the prompt or the template the ref names. */
  prompt?: ServedPrompt;
  template?: ServedTemplate;
}

/**
 * A protocol message the gateway answers itself (initialize, ping, lists, notifications, a
 * session's stream or its end): it uses no tool, resource or prompt, so it needs nothing beyond
 * the token; lists are filtered per item by the same policy.
 */
export interface MessageTarget {
  readonly kind: 'message';
  /** The protocol method (`initialize`, `tools/list`, `GET` for a stream, ...). */
  readonly name: string;
}

/** The name a target is counted and labelled by (metrics): the route id, tool, URI or prompt. */
export function targetLabel(target: Target | undefined): string {
  switch (target?.kind) {
    case 'route':
      return target.route.id;
    case 'tool':
      return target.tool?.definition.name ?? '';
    default:
      return '';
  }
}
