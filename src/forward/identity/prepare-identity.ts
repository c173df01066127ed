import type { IncomingHttpHeaders } from 'node:http';
import type { DirectoryEntry, Identity } from '../../authenticate/identity.js';
import type { TraceContext } from '../../lib/trace-context.js';
import type { OutgoingHeaderBuilder, OutgoingHeaders } from './outgoing-headers.js';
import type { AssertionForm, AssertionSigner } from './signed-assertion.js';
import { ASSERTION_META_KEY, type McpIdentityDelivery } from './upstream-identity.js';

/**
 * The one place that turns a decided request into the identity a backend receives, for every
 * kind of backend: an HTTP route, a tool declared in the config (both deliver through the route's
 * header rules) and an upstream MCP server (a header and/or `_meta`). The claims about the user
 * and the acting client are always written by the same signer from the same verified `Identity`;
 * the backend kinds differ only in the request binding they pass.
 */

/**
 * One request to a backend, after every stage decided it. Callers build it as one object literal
 * and it is handed on as it is (to the signer and the header builder), so the per-request cost is
 * that one object plus the signature.
 */
export interface IdentityRequest {
  /** The verified caller, from the authenticate stage (never from client headers). */
  readonly identity: Identity;
  /** The caller's directory entry, for identity header templates such as `{user.department}`. */
  readonly directory?: DirectoryEntry | undefined;
  /** The gateway's request id, sent as `X-Request-Id`. */
  readonly requestId: string;
  /** The request's trace: `traceparent` (and `tracestate`) in a header, and in `_meta` for an upstream MCP server. */
  readonly trace?: Pick<TraceContext, 'traceparent' | 'state'> | undefined;

  /** Request binding: `aud`, the backend (`routeAudience`, `upstreamBinding`). */
  readonly audience: string;
  /** Request binding: `htm`, the HTTP method of the upstream request (upper-cased by the signer). */
  readonly method: string;
  /** Request binding: `htu`, the upstream target, path plus query, exactly as it will be sent. */
  readonly path: string;
  /**
   * Request binding: `bdg`, the `bodyDigest` of the exact bytes forwarded (`EMPTY_BODY_DIGEST` for
   * none); for an upstream tool call, the arguments digest; for a relayed MCP request, the digest
   * of the canonical JSON of its params.
   */
  readonly bodyDigest: string;
  /** Request binding: `tool`, the tool name, for tool calls (the upstream's own name for an upstream tool). */
  readonly tool?: string | undefined;
  /** Request binding: `args`, the digest of the canonical JSON of a tool call's arguments. */
  readonly argumentsDigest?: string | undefined;
  /** Sign an assertion at all (`route.assertion.enabled`; always true for upstream MCP servers). */
  readonly signAssertion: boolean;
  /** Assertion lifetime, seconds, 1-60 (`route.assertion.ttlSeconds`, `upstream.identity.ttlSeconds`). */
  readonly ttlSeconds: number;
  /** Ordinary or batched assertion (`route.assertion.form`, `upstream.identity.form`). */
  readonly form: AssertionForm;

  /** Route delivery only: the client's headers (`req.headers`); absent for tool calls, which pass none on. */
  readonly incoming?: IncomingHttpHeaders | undefined;
  /** Route delivery only: length of the body that will be forwarded, for Content-Length; absent for none. */
  readonly bodyLength?: number | undefined;
  /** Route delivery only: the client's socket address, for X-Forwarded-For. */
  readonly clientAddress?: string | undefined;
}

/** What an upstream MCP server receives; see {@link prepareIdentity}. */
export interface McpIdentity {
  /** The signed assertion; `undefined` only when `signAssertion` was false. */
  readonly assertion: string | undefined;
  /**
   * HTTP headers to add to the upstream request: the assertion in the configured header and
   * `X-Request-Id` (names as configured, not lower-cased); empty for stdio.
   */
  readonly headers: Record<string, string>;
  /** `_meta` for the request params: `io.behalf/assertion` when `identity.meta` and signed, `traceparent` (and `tracestate`) when traced. */
  readonly meta: Readonly<Record<string, string>> | undefined;
}

/**
 * Signs the request's assertion and builds the identity one backend receives.
 *
 * DOES: sign, when `request.signAssertion`, one assertion (through `signer.signSync` for the
 * ordinary form, synchronously; for the batched form through `signer.sign`, which resolves at
 * the end of the event-loop turn, when the turn's batch is signed) whose user and client claims (`sub`, `tenant`, `email`, `name`,
 * `roles`, `groups`, `scope`, `act`/`azp`, `idp_iss`, `iss`) come from `request.identity` alone
 * and whose binding claims (`aud`, `htm`, `htu`, `bdg`, `tool`, `args`, lifetime) come from the
 * request binding alone. Then deliver it:
 * - a route's header builder (`compileOutgoingHeaders`: HTTP routes and config tools) returns
 *   its `OutgoingHeaders`: client credentials and identity-looking headers removed, identity
 *   headers rendered from `identity` and `directory`, the assertion in the route's header,
 *   `X-Request-Id`, X-Forwarded-*, Content-Length;
 * - an upstream MCP server's delivery (`mcpIdentityDelivery`) returns {@link McpIdentity}: the
 *   assertion in the configured header plus `X-Request-Id` and `traceparent`/`tracestate` (HTTP
 *   only), and in `_meta` the assertion when configured and `traceparent`/`tracestate` (MCP's
 *   convention for trace context) whenever the request has a trace.
 *
 * This does NOT decide whether the request is allowed (authorize did), nor verify the identity
 * (authenticate did): it trusts `request.identity` as given. It does NOT check that `path`,
 * `method` and `bodyDigest` describe what will really be sent: the caller must pass exactly the
 * target and digest of the bytes it forwards, or the backend will refuse the assertion (or,
 * worse, accept it for something else). It does NOT check that `audience` names the backend the
 * request goes to. For an upstream MCP server it does NOT remove or add any other header (there
 * are no client headers to strip; the upstream's own configured `headers` are the caller's to
 * add) and does NOT check the request id's characters (the gateway makes it). It does NOT
 * prevent replay: `jti` is fresh per call, but only a backend's replay cache refuses a second use.
 */
export async function prepareIdentity(signer: AssertionSigner, delivery: OutgoingHeaderBuilder, request: IdentityRequest): Promise<OutgoingHeaders>;
export async function prepareIdentity(signer: AssertionSigner, delivery: McpIdentityDelivery, request: IdentityRequest): Promise<McpIdentity>;
export async function prepareIdentity(signer: AssertionSigner, delivery: OutgoingHeaderBuilder | McpIdentityDelivery, request: IdentityRequest): Promise<OutgoingHeaders | McpIdentity> {
  // The request is passed as it is: it holds every field `AssertionInput` reads (no `body`,
  // so the signer never hashes: `bodyDigest` is always given).
  const assertion = !request.signAssertion ? undefined : request.form === 'batched' ? await signer.sign(request) : signer.signSync(request);
  if (delivery.kind === 'headers') return delivery.build(request, assertion);
  const headers: Record<string, string> = {};
  const trace = request.trace;
  if (delivery.header !== undefined) {
    if (assertion !== undefined) headers[delivery.header] = assertion;
    headers['X-Request-Id'] = request.requestId;
    if (trace !== undefined) {
      headers['traceparent'] = trace.traceparent;
      if (trace.state !== undefined) headers['tracestate'] = trace.state;
    }
  }
  const signed = delivery.meta && assertion !== undefined;
  if (!signed && trace === undefined) return { assertion, headers, meta: undefined };
  // MCP's convention for trace context is `params._meta.traceparent` / `tracestate`.
  const meta: Record<string, string> = {};
  if (signed) meta[ASSERTION_META_KEY] = assertion;
  if (trace !== undefined) {
    meta['traceparent'] = trace.traceparent;
    if (trace.state !== undefined) meta['tracestate'] = trace.state;
  }
  return { assertion, headers, meta };
}
