import { Agent } from 'undici';
import { DEFAULTS } from '../config/defaults.js';

/**
 * The one way the gateway makes undici agents for backends: the HTTP door's forwarder, the
 * config tools and the direct `tools/call` path to upstream MCP servers each own one
 * {@link AgentPool} and close it when they close.
 */

/**
 * How long an idle backend socket is kept, ms (4 s): below node's 5 s server default, so the
 * backend does not close a socket the gateway is about to reuse.
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = DEFAULTS.upstreamKeepAliveMs;

/** What is the same for every agent of a pool. */
export interface AgentPoolOptions {
  /** Sockets per origin, per agent; default (`undefined`) unbounded. */
  readonly connections?: number | undefined;
}

/** Keep-alive agents, one per distinct pair of timeouts. */
export interface AgentPool {
  /**
   * The agent for `connectTimeoutMs` and `keepAliveTimeoutMs` (ms), made on first use and then
   * reused: undici fixes both per agent, so requests that differ in them need their own agent
   * (each agent keeps its own pool of connections per origin). An omitted value keeps undici's
   * default (connect 10 s, keep-alive 4 s).
   */
  agentFor(connectTimeoutMs?: number, keepAliveTimeoutMs?: number): Agent;
  /**
   * Closes every agent made so far once its in-flight requests end (no socket is left open).
   * Safe to call twice. An `agentFor` after it makes a new agent, which the next `close` closes.
   */
  close(): Promise<void>;
}

/**
 * Creates an empty pool.
 *
 * This does NOT bound the number of agents: callers pass timeouts from the config (a handful of
 * distinct values), never from a request. It does NOT follow redirects or retry (undici's
 * defaults for `dispatch` and `request`), and sets no request timeouts: callers bound each
 * exchange themselves.
 */
export function createAgentPool(opts: AgentPoolOptions = {}): AgentPool {
  // Two levels of Map, so the per-request lookup builds no key string.
  const agents = new Map<number | undefined, Map<number | undefined, Agent>>();
  return {
    agentFor(connectTimeoutMs, keepAliveTimeoutMs) {
      let byKeepAlive = agents.get(connectTimeoutMs);
      if (byKeepAlive === undefined) agents.set(connectTimeoutMs, (byKeepAlive = new Map()));
      let agent = byKeepAlive.get(keepAliveTimeoutMs);
      if (agent === undefined) {
        // Only the options given: an omitted one is left to undici, exactly as `new Agent()` does.
        agent = new Agent({
          ...(keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeout: keepAliveTimeoutMs }),
          ...(connectTimeoutMs === undefined ? {} : { connect: { timeout: connectTimeoutMs } }),
          ...(opts.connections === undefined ? {} : { connections: opts.connections }),
        });
        byKeepAlive.set(keepAliveTimeoutMs, agent);
      }
      return agent;
    },
    async close() {
      const open = [...agents.values()].flatMap((m) => [...m.values()]);
      agents.clear();
      await Promise.all(open.map((a) => a.close()));
    },
  };
}
