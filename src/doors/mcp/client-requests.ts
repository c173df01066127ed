import type { ClientAnswer, RpcId } from './jsonrpc.js';

/**
 * Requests the gateway sent a client (relayed from an upstream: `sampling/createMessage`,
 * `elicitation/create`) that wait for the client's response. The client answers with a POST of a
 * JSON-RPC response on the same session; the door hands it to the waiting request here. Per
 * process: a response must reach the instance that sent the request (sticky sessions, as for
 * cancellation).
 */

/** One waiting request. */
export interface PendingClientRequest {
  /** The method sent (for the audit record of the response). */
  readonly method: string;
  /** The upstream that asked. */
  readonly upstream: string;
  /** Called once with the client's answer. */
  settle(answer: ClientAnswer): void;
}

/** The registry of one gateway process. */
export interface ClientRequests {
  /** A new request id, unique in this process (`behalf-<n>`): never one a client could have sent first. */
  nextId(): string;
  /**
   * Registers a request sent to the client of `sessionId`. Returns the function that
   * unregisters it, or undefined when too many requests wait already (the caller then refuses).
   */
  add(sessionId: string, id: RpcId, pending: PendingClientRequest): (() => void) | undefined;
  /**
   * Hands `answer` to the request `id` of `sessionId` and forgets it. Returns the request, or
   * undefined when none waits (unknown, answered already, or given up).
   *
   * This does NOT check who answers: the caller must have checked that the response comes from
   * the session's owner (the session id alone is not proof of identity).
   */
  settle(sessionId: string, id: RpcId, answer: ClientAnswer): PendingClientRequest | undefined;
  /** Requests waiting now. */
  size(): number;
}

/** Most requests waiting at once in one process, and for one session. */
const MAX_WAITING = 10_000;
const MAX_PER_SESSION = 16;

/** The registry, bounded at 10,000 waiting requests (16 per session). */
export function createClientRequests(): ClientRequests {
  const waiting = new Map<string, PendingClientRequest>();
  const perSession = new Map<string, number>();
  let counter = 0;
  // The id's type is part of the key: a response with id 1 does not answer request "1".
  const keyOf = (sessionId: string, id: RpcId) => `${sessionId}\n${typeof id}\n${String(id)}`;
  const release = (sessionId: string) => {
    const n = (perSession.get(sessionId) ?? 1) - 1;
    if (n <= 0) perSession.delete(sessionId);
    else perSession.set(sessionId, n);
  };
  return {
    nextId: () => `behalf-${(++counter).toString(36)}`,
    add(sessionId, id, pending) {
      const key = keyOf(sessionId, id);
      if (waiting.size >= MAX_WAITING || (perSession.get(sessionId) ?? 0) >= MAX_PER_SESSION || waiting.has(key)) return undefined;
      waiting.set(key, pending);
      perSession.set(sessionId, (perSession.get(sessionId) ?? 0) + 1);
      return () => {
        if (waiting.get(key) !== pending) return;
        waiting.delete(key);
        release(sessionId);
      };
    },
    settle(sessionId, id, answer) {
      const key = keyOf(sessionId, id);
      const pending = waiting.get(key);
      if (pending === undefined) return undefined;
      waiting.delete(key);
      release(sessionId);
      pending.settle(answer);
      return pending;
    },
    size: () => waiting.size,
  };
}
