import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientChannel } from '../mcp-upstream/channel.js';
import type { RequestContext } from './context.js';
import type { Deny } from './decision.js';

/** What a token must have been minted for, to be accepted at a door (RFC 8707 audience, issuers). */
export interface Credentials {
  /** Audiences the token must name one of (default: the issuer's configured audience). */
  readonly audience?: readonly string[];
  /** Issuer ids accepted here (default: every configured issuer). */
  readonly allowedIssuers?: readonly string[];
}

/**
 * The client's side of one call to a backend, opened by the door: aborted when the client
 * cancels or goes away; progress and an upstream's messages (log, sampling, elicitation) reach
 * the client through it.
 */
export interface CallChannel {
  readonly signal: AbortSignal;
  /** True once the client closed its connection (not merely cancelled). */
  readonly gone: boolean;
  /** Progress from the backend, when the client asked for it. */
  readonly onProgress?: (progress: { progress: number; total?: number; message?: string }) => void;
  /** Where an upstream MCP server's messages during the call go (absent when the client cannot take any). */
  readonly relay?: ClientChannel;
  /** The call ended: stop tracking it, later messages are dropped. */
  close(): void;
}

/**
 * A way into the gateway: the wire format on one side, the pipeline's neutral request on the
 * other. A door turns what arrives into a context and a {@link Target} (the stages never read the
 * wire format), and turns neutral decisions and outcomes back into its wire format (HTTP status
 * and body, JSON-RPC result or error). The stages run in between, in the one order of
 * `stages.ts`, through the one runner of `run.ts`.
 */
export interface Door<C extends RequestContext = RequestContext> {
  readonly name: C['door'];
  /** The context of a request that arrived at this door. */
  open(req: IncomingMessage, res: ServerResponse, startedAt: number, wallMs: number): C;
  /** What the door checks before anything is authenticated or read (method, Origin, the route a path names). */
  receive(ctx: C): Deny | undefined;
  /** What a token must have been minted for here. */
  credentials(ctx: C): Credentials | undefined;
  /**
   * Reads the wire format into `ctx.target` (and, where the door's format puts it in the body,
   * reads the bounded body). Runs after authenticate: an unauthenticated caller never makes the
   * gateway buffer anything.
   */
  describe(ctx: C): Deny | undefined | Promise<Deny | undefined>;
  /** Wire checks that need the resolved target (the MCP stateless form's `Mcp-Param-*` headers). */
  resolved(ctx: C): Deny | undefined;
  /** Opens the client's side of a call to a backend (forward). `relay`: the backend is an upstream MCP server. */
  openCall(ctx: C, relay: boolean): CallChannel;
  /** Answers a request the gateway answers itself (a protocol message), or refuses it. */
  answerLocally(ctx: C): Deny | undefined | Promise<Deny | undefined>;
  /**
   * Turns `ctx.outcome` into the door's answer without sending it: sets `ctx.status` and
   * `ctx.bytesOut` so the audit record says what the client will get.
   */
  settle(ctx: C): Deny | undefined;
  /** Sends the settled answer (after its audit record is written). */
  send(ctx: C): void;
  /** The HTTP status a denial goes out with on this door's wire (for the audit record, written before it is sent). */
  statusOf(ctx: C, denial: Deny): number;
  /** Sends a denial in the door's wire form, with the bearer challenge where one is due. */
  refuse(ctx: C, denial: Deny): void;
}
