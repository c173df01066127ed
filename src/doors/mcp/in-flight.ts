import type { RpcId } from './jsonrpc.js';

/**
 * Tool calls in progress, by session and JSON-RPC id, so a `notifications/cancelled` from the
 * same session can abort the right one (protocol 2025-03-26 to 2025-11-25; the stateless
 * revision cancels by closing the response stream, which the call's own close listener handles).
 * Per process: a cancellation reaches the instance that runs the call only.
 */
export interface InFlightCalls {
  /** Registers a call; returns the function that unregisters it (call it when the call ends). */
  add(sessionId: string, id: RpcId, controller: AbortController): () => void;
  /**
   * Aborts the call `id` of `sessionId`, if it is still running. Returns true if one was aborted.
   *
   * This does NOT check who asks: the caller must have checked that the request comes from the
   * session's owner (a session id alone is not proof of identity).
   */
  cancel(sessionId: string, id: RpcId, reason: string): boolean;
  /** Calls running now. */
  size(): number;
}

/** Bound on concurrent registered calls; past it, new calls run but cannot be cancelled by notification. */
const MAX_IN_FLIGHT = 100_000;

/** The registry of one gateway process, bounded at 100 000 calls. */
export function createInFlightCalls(): InFlightCalls {
  const calls = new Map<string, AbortController>();
  // The id's type is part of the key: request 1 and request "1" are different requests.
  const keyOf = (sessionId: string, id: RpcId) => `${sessionId}\n${typeof id}\n${String(id)}`;
  return {
    add(sessionId, id, controller) {
      const key = keyOf(sessionId, id);
      if (calls.size >= MAX_IN_FLIGHT || calls.has(key)) return () => undefined;
      calls.set(key, controller);
      return () => {
        if (calls.get(key) === controller) calls.delete(key);
      };
    },
    cancel(sessionId, id, reason) {
      const controller = calls.get(keyOf(sessionId, id));
      if (controller === undefined) return false;
      controller.abort(new Error(reason));
      return true;
    },
    size: () => calls.size,
  };
}

/** One client request being served: aborted by the client closing its connection or by a cancellation. */
export interface TrackedRequest {
  readonly signal: AbortSignal;
  /** True once the client closed the connection (not merely cancelled). */
  readonly gone: boolean;
  /** Stops tracking (call when the request ends). */
  release(): void;
}

/**
 * Tracks `rpcId` of `sessionId` in `inFlight` (so `notifications/cancelled` can abort it) and
 * aborts it when `res` closes before the answer.
 */
export function trackRequest(res: { once(e: 'close', f: () => void): unknown; off(e: 'close', f: () => void): unknown }, inFlight: InFlightCalls, sessionId: string | undefined, rpcId: RpcId | undefined): TrackedRequest {
  const controller = new AbortController();
  let gone = false;
  const onClose = () => {
    gone = true;
    controller.abort(new Error('the client closed the connection'));
  };
  res.once('close', onClose);
  const unregister = sessionId === undefined || rpcId === undefined ? () => undefined : inFlight.add(sessionId, rpcId, controller);
  return {
    signal: controller.signal,
    get gone() {
      return gone;
    },
    release() {
      unregister();
      res.off('close', onClose);
    },
  };
}
