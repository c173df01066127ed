import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteConfig } from '../config/schema.js';
import type { Deny } from '../pipeline/decision.js';
import type { UpstreamHeaders } from './identity/outgoing-headers.js';

/** One request to forward. */
export interface ForwardInput {
  /** The client request (its method is used; its body was already read by the caller). */
  readonly req: IncomingMessage;
  /** Where the upstream response goes, streamed. Headers set on it before are kept unless the upstream sends the same name. */
  readonly res: ServerResponse;
  readonly route: Pick<RouteConfig, 'upstream' | 'timeoutMs' | 'connectTimeoutMs'>;
  /** Upstream request target, path plus query: from `joinUpstreamPath`, the same string the assertion binds. */
  readonly upstreamPath: string;
  /** Upstream request headers, from `compileOutgoingHeaders(...).build(...)`. */
  readonly headers: UpstreamHeaders;
  /** The bounded request body, exactly the bytes the assertion digest covers; `undefined` for none. */
  readonly body: Buffer | undefined;
  /** Aborting it gives up on the request as a client disconnect would. */
  readonly signal?: AbortSignal;
  /**
   * Called once the whole upstream response has been received and written, just before the
   * client response is ended (the audit record goes here, so it is durable before the client
   * sees a complete response). Resolve `false` (or throw) to cut the response short instead: the
   * client connection is destroyed, so the client can tell the response is incomplete. Time spent
   * here does not count against `route.timeoutMs`.
   */
  readonly beforeEnd?: (done: { upstreamStatus: number; bytesOut: number }) => boolean | Promise<boolean>;
}

/** How forwarding ended. Never a thrown error: every network fault is described here. */
export interface ForwardResult {
  /** The whole upstream response reached the client. */
  readonly ok: boolean;
  readonly upstreamStatus?: number;
  /** Response body bytes written to the client. */
  readonly bytesOut: number;
  /** Set when nothing was sent to the client yet: the caller answers with it (502 or 504). */
  readonly decision?: Deny;
  /**
   * Who cut a started exchange short: the client (it went away), the upstream (fault or timeout)
   * or the gateway (`beforeEnd` refused to finish the response).
   */
  readonly aborted?: 'client' | 'upstream' | 'gateway';
  /** With `aborted: 'upstream'` after the response started: timeout or connection fault. */
  readonly reason?: 'upstream-timeout' | 'upstream-error';
  /** Short non-secret detail for the audit record (an error code). */
  readonly detail?: string;
}
