import type { McpDeps } from './deps.js';
import { isKnownMethod, SERVER_CAPABILITIES } from './protocol.js';

/**
 * What the endpoint advertises (`initialize`, `server/discover`) and answers: tools always; the
 * rest only when an upstream serves it, so a client is never offered what no upstream has.
 * Capabilities follow what the upstreams declared when they were last connected (an upstream
 * that is down keeps its part). A session keeps what `initialize` advertised; a method an
 * upstream started serving since is answered anyway.
 *
 * Session-based clients (up to 2025-11-25) also get `logging` (per-session level, upstream log
 * messages relayed on the request's stream) and resource subscriptions (notifications on the
 * session's GET stream). The stateless form has neither: no session to hold a level or a stream.
 */

/** The capabilities to advertise to a client of `era`. */
export function serverCapabilities(deps: McpDeps, era: 'legacy' | 'modern'): Record<string, unknown> {
  const served = deps.upstreams?.features().capabilities;
  if (served === undefined) return SERVER_CAPABILITIES;
  const caps: Record<string, unknown> = { ...SERVER_CAPABILITIES };
  // Upstream tools come and go: sessions with a GET stream hear of it.
  if (era === 'legacy') caps['tools'] = { listChanged: true };
  if (served.resources) caps['resources'] = { subscribe: era === 'legacy' && served.subscribe, listChanged: false };
  if (served.prompts) caps['prompts'] = { listChanged: false };
  if (served.completions) caps['completions'] = {};
  if (era === 'legacy' && served.logging) caps['logging'] = {};
  return caps;
}

/**
 * True when sessions may open a GET stream: something can be pushed on it (upstreams are served:
 * `notifications/tools/list_changed`, and resource updates when one offers subscriptions).
 */
export function servesStream(deps: McpDeps): boolean {
  return deps.upstreams !== undefined;
}

/**
 * True when the endpoint answers `method` for a client of `era`: a protocol or tool method, or
 * one whose capability an upstream declared (see {@link serverCapabilities}). The stateless
 * revision has no `initialize`, `ping`, `logging/setLevel` nor resource subscriptions: each is
 * "Method not found" there (404 -32601).
 */
export function servesMethod(deps: McpDeps, era: 'legacy' | 'modern' | undefined, method: string): boolean {
  if (!isKnownMethod(method)) return false;
  switch (method) {
    // The stateless revision removed both: no handshake, and no connection whose liveness a ping
    // could tell (spec 2026-07-28; the conformance suite's server-stateless scenario).
    case 'initialize':
    case 'ping':
      return era !== 'modern';
    case 'server/discover':
    case 'tools/list':
    case 'tools/call':
      return true;
    default:
      break;
  }
  const served = deps.upstreams?.features().capabilities;
  if (served === undefined) return false;
  switch (method) {
    case 'resources/list':
    case 'resources/templates/list':
    case 'resources/read':
      return served.resources;
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return era === 'legacy' && served.subscribe;
    case 'prompts/list':
    case 'prompts/get':
      return served.prompts;
    case 'completion/complete':
      return served.completions;
    case 'logging/setLevel':
      return era === 'legacy' && served.logging;
    default:
      return false;
  }
}
