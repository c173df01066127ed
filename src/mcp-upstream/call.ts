import type { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import { BehalfError } from '../errors.js';
import type { ToolPins } from './pinning.js';
import type { BackendFailure, ContentBlock, ToolCallContext, ToolCallResult, ToolSource } from '../tools/types.js';
import { unavailableDetail, type UpstreamConnection } from './connection.js';
import { failureKind, failureOf } from './failure-kind.js';
import { callToolDirect, canCallDirect, UpstreamProtocolError } from './direct-call.js';
import { withCallHeaders } from './transport.js';
import type { AssertionSigner } from '../forward/identity/signed-assertion.js';
import { prepareIdentity } from '../forward/identity/prepare-identity.js';
import { mcpIdentityDelivery, upstreamBinding } from '../forward/identity/upstream-identity.js';
import { compileToolMatcher } from '../lib/tool-pattern.js';

/**
 * Calling one upstream tool on behalf of the verified user: sign the identity assertion for that
 * call, send `tools/call` through the upstream's SDK session with the assertion in a header
 * and/or `_meta`, relay progress, pass cancellation on, and turn every upstream failure into an
 * `isError` result (with an audit `detail`) instead of a fault.
 */

// Defined with the rest of the identity sent to backends; re-exported for the door and tests that read them here.
export { ASSERTION_META_KEY, upstreamBinding, type UpstreamBinding } from '../forward/identity/upstream-identity.js';

const text = (message: string): ContentBlock[] => [{ type: 'text', text: message }];
/** A call the upstream gave no usable answer to: what the model sees, the audit detail, and (`reason`) what the record says. */
const failure = (message: string, detail: string, reason?: BackendFailure): ToolCallResult =>
  reason === undefined ? { content: text(message), isError: true, detail } : { content: text(message), isError: true, detail, failure: reason };

const isHttpUrl = (cfg: UpstreamConfig): cfg is UpstreamConfig & { url: string } => cfg.transport === 'http' && cfg.url !== undefined;

type Attempt = { result: ToolCallResult } | { retry: true };

/**
 * The upstream's {@link ToolSource}: `call(name, ...)` takes the catalog name
 * (`<namespace>.<tool>`), strips the namespace and calls the upstream's own tool.
 *
 * Per call it signs a fresh assertion through `prepareIdentity` (`aud` and `htu` from
 * `upstreamBinding`, `htm` `POST`, `tool` = the upstream's own tool name, `bdg` and `args` = `ctx.argumentsDigest` (the
 * digest of the canonical JSON of the arguments: the JSON-RPC body cannot be signed, since the
 * `_meta` copy of the assertion is inside it), lifetime
 * `identity.ttlSeconds`) and sends it in `identity.header` (HTTP upstreams) and, when
 * `identity.meta`, in `params._meta["io.behalf/assertion"]`; `X-Request-Id` carries the
 * gateway's request id. Progress from the upstream goes to `ctx.onProgress` (asked for only when
 * the client asked); `ctx.signal` cancels the call (the SDK sends `notifications/cancelled`
 * upstream) and the call then rejects with the signal's reason. The upstream gets at most
 * `timeoutMs`, then the call is cancelled upstream and answers "upstream timed out". A failure
 * touches the session every user shares only as its kind says (failure-kind.ts): a session the
 * upstream forgot (HTTP 404 after its restart) is re-opened and the call sent once more, since
 * the upstream never ran it; an answer the upstream cut short after its head fails this call
 * only ("upstream error", audited `upstream-error`); a call that could not reach the upstream
 * ("upstream unavailable") has the session checked, and a failed check counts towards opening
 * the upstream's circuit, while which calls answer "upstream unavailable" at once. A call that
 * broke either way is sent again (once) only for a tool annotated `readOnlyHint` or
 * `idempotentHint`, and only over a session that passed the check: another may have run already.
 *
 * This does NOT decide whether the user may call the tool (the authorize stage did), nor
 * validate the arguments (screen did). It does NOT send the user's token: `ctx` holds none, and
 * the only credential sent is the upstream's configured `headers`. It does NOT call a tool whose
 * pin is `blocked`, even if a stale catalog asks (defence in depth). Over HTTP the answer is
 * bounded (`MAX_ANSWER_BYTES`, see mcp-upstream-direct.ts); over stdio it is not.
 */
export function createUpstreamSource(conn: UpstreamConnection, deps: { signer: AssertionSigner; pins?: ToolPins; dispatcher?: Dispatcher | undefined }): ToolSource {
  const cfg = conn.config;
  const url = isHttpUrl(cfg) ? new URL(cfg.url) : undefined;
  const binding = upstreamBinding(cfg);
  const delivery = mcpIdentityDelivery(cfg);
  const prefix = conn.namespace === '' ? '' : `${conn.namespace}.`;

  const attempt = async (upstreamName: string, args: Readonly<Record<string, unknown>>, ctx: ToolCallContext, retryable: { session: boolean; connection: boolean }): Promise<Attempt> => {
    const client = await conn.client();
    if (client === undefined) return { result: failure('upstream unavailable', unavailableDetail(conn), 'upstream-unavailable') };
    const prepared = await prepareIdentity(deps.signer, delivery, {
      identity: ctx.identity,
      directory: ctx.user,
      requestId: ctx.requestId,
      trace: ctx.trace,
      audience: binding.audience,
      method: 'POST',
      path: binding.path,
      bodyDigest: ctx.argumentsDigest,
      tool: upstreamName,
      argumentsDigest: ctx.argumentsDigest,
      signAssertion: true,
      ttlSeconds: cfg.identity.ttlSeconds,
      form: cfg.identity.form,
    });
    const params = {
      name: upstreamName,
      arguments: { ...args },
      ...(prepared.meta !== undefined ? { _meta: prepared.meta } : {}),
    };
    const onProgress = ctx.onProgress;
    const options = {
      signal: ctx.signal,
      timeout: cfg.timeoutMs,
      ...(onProgress !== undefined
        ? { onprogress: (p: { progress: number; total?: number; message?: string }) => onProgress({ progress: p.progress, ...(p.total !== undefined ? { total: p.total } : {}), ...(p.message !== undefined ? { message: p.message } : {}) }) }
        : {}),
    };
    const headers = prepared.headers;
    try {
      const result =
        url !== undefined && deps.dispatcher !== undefined && canCallDirect(client)
          ? await callToolDirect(client, url, deps.dispatcher, { params, headers: { ...cfg.headers, ...headers }, signal: ctx.signal, timeoutMs: cfg.timeoutMs, ...(onProgress !== undefined ? { onProgress } : {}), ...(ctx.channel !== undefined ? { channel: ctx.channel } : {}) })
          : ((await withCallHeaders(headers, () => client.callTool(params, undefined, options), ctx.channel)) as CallToolResult);
      return {
        result: {
          content: (result.content ?? []) as ContentBlock[],
          ...(result.structuredContent !== undefined ? { structuredContent: result.structuredContent } : {}),
          ...(result.isError === true ? { isError: true, detail: `upstream ${cfg.id} tool reported an error` } : {}),
        },
      };
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
      const kind = failureKind(err, client.transport !== undefined);
      switch (kind) {
        case 'timeout':
          // One slow tool says nothing about the upstream; a hung upstream fails its check.
          void conn.check(client);
          return { result: failure('upstream timed out', `upstream ${cfg.id} did not answer within ${cfg.timeoutMs} ms`, 'upstream-timeout') };
        case 'rejected':
          return { result: failure('upstream error', `upstream ${cfg.id} answered JSON-RPC error ${(err as McpError).code}`, 'upstream-error') };
        case 'http':
          return { result: failure('upstream error', `upstream ${cfg.id} answered HTTP ${(err as StreamableHTTPError).code ?? 'error'}`, 'upstream-error') };
        case 'invalid':
          return { result: err instanceof UpstreamProtocolError ? failure(err.clientText, `upstream ${cfg.id}: ${err.message}`, 'upstream-error') : failure('upstream error', `upstream ${cfg.id} answered an invalid tools/call result`, 'upstream-error') };
        case 'session-lost':
          // The upstream forgot the session (it restarted) and never ran the call.
          conn.sessionLost(client, 'session expired');
          if (retryable.session && (await conn.client()) !== undefined) return { retry: true };
          return { result: failure('upstream unavailable', `upstream ${cfg.id} unavailable: session expired`, 'upstream-unavailable') };
        case 'broken-answer':
          // The session took the call and the upstream cut this answer short: this call failed,
          // the session did not. It may have run, so only a tool safe to repeat is sent again.
          if (retryable.connection) return { retry: true };
          return { result: failure('upstream error', `upstream ${cfg.id} broke its answer to the call (${failureOf(err)})`, 'upstream-error') };
        case 'no-answer':
        case 'closed': {
          // The upstream, or only this request's connection, could not be reached: the session
          // is checked (once for every caller meanwhile) before anything else happens to it.
          const usable = kind === 'closed' ? conn.client().then((c) => c !== undefined) : conn.check(client);
          if (retryable.connection && (await usable)) return { retry: true };
          return { result: failure('upstream unavailable', `upstream ${cfg.id} unavailable: ${kind === 'closed' ? 'connection closed' : failureOf(err)}`, 'upstream-unavailable') };
        }
      }
    }
  };

  const readOnly = compileToolMatcher(cfg.readOnlyTools.map((name) => `${prefix}${name}`));
  return {
    id: cfg.id,
    kind: 'mcp',
    readsOnly: (tool) => readOnly.matches(tool),
    maxArgumentBytes: () => cfg.maxArgumentBytes,
    async call(tool, args, ctx) {
      if (!tool.startsWith(prefix)) throw new BehalfError('internal', `tool ${tool} is not from upstream ${cfg.id}`);
      const upstreamName = tool.slice(prefix.length);
      const listed = conn.tools().find((t) => t.upstreamName === upstreamName);
      if (listed !== undefined && deps.pins?.status(tool, listed.hash, cfg.pinning) === 'blocked') {
        return failure('tool unavailable', `upstream ${cfg.id}: definition changed since pinned; blocked until accepted`);
      }
      const hints = listed?.definition.annotations;
      const safeToRepeat = hints?.readOnlyHint === true || hints?.idempotentHint === true;
      let outcome = await attempt(upstreamName, args, ctx, { session: true, connection: safeToRepeat });
      if ('retry' in outcome) outcome = await attempt(upstreamName, args, ctx, { session: false, connection: false });
      return 'retry' in outcome ? failure('upstream unavailable', `upstream ${cfg.id} unavailable`, 'upstream-unavailable') : outcome.result;
    },
  };
}
