import type { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CompleteResultSchema, EmptyResultSchema, GetPromptResultSchema, ReadResourceResultSchema, type McpError } from '@modelcontextprotocol/sdk/types.js';
import { canonicalJson } from '../lib/canonical-json.js';
import type { Identity } from '../authenticate/identity.js';
import type { TraceContext } from '../lib/trace-context.js';
import { bodyDigest } from '../lib/digest.js';
import { unavailableDetail, type UpstreamConnection } from './connection.js';
import { failureKind, failureOf } from './failure-kind.js';
import { withCallHeaders } from './transport.js';
import type { AssertionSigner } from '../forward/identity/signed-assertion.js';
import { prepareIdentity } from '../forward/identity/prepare-identity.js';
import { mcpIdentityDelivery, upstreamBinding } from '../forward/identity/upstream-identity.js';

/**
 * Requests other than `tools/call` that the door relays to an upstream on behalf of a verified
 * user: `resources/read`, `resources/subscribe`, `resources/unsubscribe`, `prompts/get` and
 * `completion/complete`. Each carries a fresh identity assertion, like a tool call.
 */

/** The methods an {@link UpstreamRequester} sends, and the SDK schema each result is checked against. */
const RESULT_SCHEMAS = {
  'resources/read': ReadResourceResultSchema,
  'resources/subscribe': EmptyResultSchema,
  'resources/unsubscribe': EmptyResultSchema,
  'prompts/get': GetPromptResultSchema,
  'completion/complete': CompleteResultSchema,
} as const;

/** A method the door relays to an upstream (besides `tools/call`). */
export type RelayedMethod = keyof typeof RESULT_SCHEMAS;

/** Who asks, for which request. */
export interface UpstreamRequestContext {
  readonly identity: Identity;
  /** The gateway's request id (sent upstream as X-Request-Id). */
  readonly requestId: string;
  /** The request's trace, sent as `traceparent` in a header and `_meta`. */
  readonly trace?: TraceContext;
  /** Aborts the request (the client cancelled or went away); the upstream gets `notifications/cancelled`. */
  readonly signal: AbortSignal;
}

/** Why an upstream request did not give a result. `code` is the upstream's JSON-RPC code, for `rejected`. */
export interface UpstreamFailure {
  readonly kind: 'unavailable' | 'timeout' | 'rejected' | 'error';
  readonly code?: number;
  /** Short, for the audit record: never an upstream message or body. */
  readonly detail: string;
}

/** The outcome of one relayed request. */
export type UpstreamReply = { readonly ok: true; readonly result: Readonly<Record<string, unknown>> } | { readonly ok: false; readonly failure: UpstreamFailure };

/** Sends one relayed request to one upstream. Rejects only when `ctx.signal` aborted it. */
export type UpstreamRequester = (method: RelayedMethod, params: Readonly<Record<string, unknown>>, ctx: UpstreamRequestContext) => Promise<UpstreamReply>;

/**
 * The requester of one upstream. Per request it signs an assertion through `prepareIdentity`
 * (`aud` and `htu` as for tool calls, `htm` `POST`, no `tool` claim, `bdg` = `sha256:` + base64url of the canonical JSON of
 * the params as sent without `_meta`) and sends it in `identity.header` (HTTP upstreams) and,
 * with `identity.meta`, in `params._meta["io.behalf/assertion"]`, with `X-Request-Id`. The
 * upstream gets at most `timeoutMs`. Every one of these requests only reads (or, for
 * subscriptions, is idempotent), so after a session the upstream forgot (re-opened), an answer
 * cut short, or a connection that broke (once the session passed its check) the request is sent
 * once more. Failures touch the shared session only as their kind says (see call.ts).
 *
 * This does NOT decide whether the user may make the request (authorize did), nor send the
 * user's token (none reaches this layer). It does NOT bound the size of the result.
 */
export function createUpstreamRequester(conn: UpstreamConnection, deps: { readonly signer: AssertionSigner }): UpstreamRequester {
  const cfg = conn.config;
  const binding = upstreamBinding(cfg);
  const delivery = mcpIdentityDelivery(cfg);
  const fail = (kind: UpstreamFailure['kind'], detail: string, code?: number): UpstreamReply => ({ ok: false, failure: code === undefined ? { kind, detail } : { kind, detail, code } });

  const attempt = async (method: RelayedMethod, params: Readonly<Record<string, unknown>>, ctx: UpstreamRequestContext, retry: boolean): Promise<UpstreamReply | 'retry'> => {
    const client = await conn.client();
    if (client === undefined) return fail('unavailable', unavailableDetail(conn));
    const prepared = await prepareIdentity(deps.signer, delivery, {
      identity: ctx.identity,
      requestId: ctx.requestId,
      trace: ctx.trace,
      audience: binding.audience,
      method: 'POST',
      path: binding.path,
      bodyDigest: bodyDigest(canonicalJson(params)),
      signAssertion: true,
      ttlSeconds: cfg.identity.ttlSeconds,
      form: cfg.identity.form,
    });
    const sent = prepared.meta !== undefined ? { ...params, _meta: prepared.meta } : { ...params };
    const headers = prepared.headers;
    try {
      const result = await withCallHeaders(headers, () => client.request({ method, params: sent }, RESULT_SCHEMAS[method], { signal: ctx.signal, timeout: cfg.timeoutMs }));
      return { ok: true, result: result as Record<string, unknown> };
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
      const kind = failureKind(err, client.transport !== undefined);
      switch (kind) {
        case 'timeout':
          void conn.check(client);
          return fail('timeout', `upstream ${cfg.id} did not answer within ${cfg.timeoutMs} ms`);
        case 'rejected':
          return fail('rejected', `upstream ${cfg.id} answered JSON-RPC error ${(err as McpError).code}`, (err as McpError).code);
        case 'http':
          return fail('error', `upstream ${cfg.id} answered HTTP ${(err as StreamableHTTPError).code ?? 'error'}`);
        case 'invalid':
          return fail('error', `upstream ${cfg.id} answered an invalid ${method} result`);
        case 'session-lost':
          conn.sessionLost(client, 'session expired');
          if (retry && (await conn.client()) !== undefined) return 'retry';
          return fail('unavailable', `upstream ${cfg.id} unavailable: session expired`);
        case 'broken-answer':
          // This answer was cut short; the session took the request and is left alone.
          if (retry) return 'retry';
          return fail('error', `upstream ${cfg.id} broke its answer (${failureOf(err)})`);
        case 'no-answer':
        case 'closed': {
          const usable = kind === 'closed' ? conn.client().then((c) => c !== undefined) : conn.check(client);
          if (retry && (await usable)) return 'retry';
          return fail('unavailable', `upstream ${cfg.id} unavailable: ${kind === 'closed' ? 'connection closed' : failureOf(err)}`);
        }
      }
    }
  };

  return async (method, params, ctx) => {
    const first = await attempt(method, params, ctx, true);
    if (first !== 'retry') return first;
    const second = await attempt(method, params, ctx, false);
    return second === 'retry' ? fail('unavailable', `upstream ${cfg.id} unavailable`) : second;
  };
}
