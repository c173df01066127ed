import type { Dispatcher } from 'undici';
import type { Config, RouteConfig, ToolConfig } from '../config/schema.js';
import { BehalfError } from '../errors.js';
import type { ToolCallContext, ToolCallResult, ToolDefinition, ToolSource } from './types.js';
import { compileInputSchema } from '../screen/validate-arguments.js';
import { bodyDigest } from '../lib/digest.js';
import { errorCode } from '../forward/proxy-exchange.js';
import { compileCallTemplate, type CallTemplate } from './http-tool-template.js';
import { backendErrorResult, failureResult, toolResult } from './http-tool-result.js';
import type { AssertionSigner } from '../forward/identity/signed-assertion.js';
import { prepareIdentity } from '../forward/identity/prepare-identity.js';
import { createAgentPool, DEFAULT_KEEP_ALIVE_TIMEOUT_MS } from '../forward/agents.js';
import { compileForwardPlans, type ForwardPlan } from '../forward/plans.js';
import { DEFAULTS } from '../config/defaults.js';

/**
 * Tools declared in the config (`tools:`): each is one HTTP call to its route's backend, made
 * with the same identity machinery as the HTTP door (the route's identity headers, a signed
 * assertion bound to the exact request, its timeouts), and its response mapped to a tool result.
 */

/** Largest backend response a tool call buffers, bytes (4 MiB): it becomes one JSON-RPC result. */
export const DEFAULT_MAX_RESPONSE_BYTES = DEFAULTS.toolMaxResponseBytes;

/** One config tool, checked and compiled. */
export interface CompiledHttpTool {
  /** What `tools/list` shows. */
  readonly definition: ToolDefinition;
  readonly route: RouteConfig;
  /** The route upstream's origin (`http://hr.internal:8080`). */
  readonly origin: string;
  readonly method: string;
  readonly template: CallTemplate;
  /** `tools[].maxArgumentBytes`, when set. */
  readonly maxArgumentBytes?: number;
}

/**
 * Checks and compiles every `config.tools` entry: its input (and output) schema with ajv, its
 * path/query/body templates (see `compileCallTemplate`), and its route. Throws one
 * `config-invalid` error listing every problem with its config path
 * (`tools[1].inputSchema: ...`, `tools[0].call.path: ...`). `behalf check` runs this too.
 *
 * This does NOT contact the backends, nor check that a tool's policy rules exist.
 */
export function compileHttpTools(config: Pick<Config, 'tools' | 'routes'>): CompiledHttpTool[] {
  const routes = new Map(config.routes.map((r) => [r.id, r]));
  const problems: string[] = [];
  const out: CompiledHttpTool[] = [];
  config.tools.forEach((tool, i) => {
    const where = `tools[${i}]`;
    for (const key of ['inputSchema', 'outputSchema'] as const) {
      const schema = tool[key];
      if (schema === undefined) continue;
      try {
        compileInputSchema(schema);
      } catch (err) {
        problems.push(`${where}.${key}: ${(err as Error).message}`);
      }
    }
    const route = routes.get(tool.call.route);
    if (route === undefined) {
      problems.push(`${where}.call.route: unknown route "${tool.call.route}"`);
      return;
    }
    try {
      const template = compileCallTemplate(tool, route, `${where}.call`);
      const compiled = { definition: toDefinition(tool), route, origin: new URL(route.upstream).origin, method: tool.call.method, template };
      out.push(tool.maxArgumentBytes === undefined ? compiled : { ...compiled, maxArgumentBytes: tool.maxArgumentBytes });
    } catch (err) {
      problems.push(...(err as Error).message.split('\n'));
    }
  });
  if (problems.length > 0) throw new BehalfError('config-invalid', problems.join('\n'));
  return out;
}

function toDefinition(tool: ToolConfig): ToolDefinition {
  const d: { -readonly [K in keyof ToolDefinition]: ToolDefinition[K] } = { name: tool.name, description: tool.description, inputSchema: tool.inputSchema };
  if (tool.title !== undefined) d.title = tool.title;
  if (tool.outputSchema !== undefined) d.outputSchema = tool.outputSchema;
  if (tool.annotations !== undefined) d.annotations = tool.annotations;
  return Object.freeze(d);
}

/** What the config tool source needs besides the config. */
export interface HttpToolSourceOptions {
  /** The gateway's assertion signer (the same as the HTTP door's). */
  readonly signer: AssertionSigner;
  /** Per route: header rules and audience; default compiled from the config (pass the door's to share them). */
  readonly forwardPlans?: ReadonlyMap<string, ForwardPlan>;
  /** Default {@link DEFAULT_MAX_RESPONSE_BYTES}. */
  readonly maxResponseBytes?: number;
  /** How long an idle backend connection is kept, ms (default {@link DEFAULT_KEEP_ALIVE_TIMEOUT_MS}, 4 000). */
  readonly keepAliveTimeoutMs?: number;
}

/** The source of `config.tools`. */
export interface HttpToolSource extends ToolSource {
  readonly id: 'config';
  readonly kind: 'http';
  /** The tools in config order, for the catalog. */
  readonly definitions: readonly ToolDefinition[];
  /** Closes the backend connections once in-flight calls end. */
  close(): Promise<void>;
}

/**
 * Creates the source of config tools (id `config`, kind `http`); throws `config-invalid` as
 * {@link compileHttpTools} does. Each `call`:
 * 1. renders the request from the (already validated) arguments; an argument that cannot be
 *    mapped safely is an `isError` result and no request is made;
 * 2. signs the route's assertion (when enabled) for exactly that method, target and body, with
 *    `tool` = the tool name and `args` = `ctx.argumentsDigest`, and
 * 3. builds the headers with the route's `compileOutgoingHeaders` from NO client headers (an
 *    MCP call has none to pass on; there is no user token to pass either), both through
 *    `prepareIdentity`, as the HTTP door does; then adds `Content-Type: application/json` for a
 *    body and `Accept`;
 * 4. sends it with undici (pooled keep-alive connections, the route's `connectTimeoutMs`;
 *    `timeoutMs` bounds the whole exchange, body included), no redirects followed;
 * 5. buffers at most `maxResponseBytes` and maps the response (see `toolResult`).
 * A backend that is down, times out, answers too much or with an error status gives an
 * `isError` result with a short message (`backend unavailable`, `backend timed out`,
 * `backend answered 503`) and `detail`/`upstreamStatus` for the audit. When `ctx.signal`
 * aborts (the client cancelled), the request is aborted and `call` rejects with the signal's
 * reason.
 *
 * This does NOT decide whether the call is allowed (authorize did), validate arguments
 * (screen did), or check what the backend returns beyond its size and status (screen(out)).
 */
export function createHttpToolSource(config: Pick<Config, 'tools' | 'routes' | 'server'>, opts: HttpToolSourceOptions): HttpToolSource {
  const tools = compileHttpTools(config);
  const byName = new Map(tools.map((t) => [t.definition.name, t]));
  const plans = opts.forwardPlans ?? compileForwardPlans(config as Config);
  const maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const agents = createAgentPool();
  const keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS;

  const call = async (name: string, args: Readonly<Record<string, unknown>>, ctx: ToolCallContext): Promise<ToolCallResult> => {
    const tool = byName.get(name);
    if (tool === undefined) return failureResult('unknown tool', `no config tool "${name.slice(0, 140)}"`);
    const plan = plans.get(tool.route.id);
    if (plan === undefined) throw new BehalfError('internal', `no forward plan for route "${tool.route.id}"`);
    ctx.signal.throwIfAborted();
    const rendered = tool.template.render(args);
    if (!rendered.ok) return failureResult(rendered.message, `arguments not mapped: ${rendered.message}`);
    const { target, body } = rendered;
    const route = tool.route;
    const { headers } = await prepareIdentity(opts.signer, plan.headers, {
      identity: ctx.identity,
      directory: ctx.user,
      requestId: ctx.requestId,
      trace: ctx.trace,
      audience: plan.audience,
      method: tool.method,
      path: target,
      bodyDigest: bodyDigest(body),
      tool: name,
      argumentsDigest: ctx.argumentsDigest,
      signAssertion: route.assertion.enabled,
      ttlSeconds: route.assertion.ttlSeconds,
      form: route.assertion.form,
      bodyLength: body?.length,
    });
    if (body !== undefined) headers['content-type'] = 'application/json';
    headers['accept'] = 'application/json, */*;q=0.8';

    // One timer for the whole exchange, headers and body, as the HTTP door has.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error('behalf: backend timeout')), route.timeoutMs);
    const signal = AbortSignal.any([ctx.signal, timeout.signal]);
    let res: Dispatcher.ResponseData | undefined;
    try {
      res = await agents.agentFor(route.connectTimeoutMs, keepAliveTimeoutMs).request({
        origin: tool.origin,
        path: target,
        method: tool.method as Dispatcher.HttpMethod,
        headers,
        body: body ?? null,
        signal,
        headersTimeout: route.timeoutMs,
        bodyTimeout: route.timeoutMs,
      });
      const status = res.statusCode;
      const contentType = firstHeader(res.headers['content-type']);
      const declared = Number(firstHeader(res.headers['content-length']));
      // The status alone says a 5xx failed; its body is never shown, so it is not read.
      if (status >= 500) {
        discard(res.body);
        return backendErrorResult({ status, contentType, body: Buffer.alloc(0) });
      }
      if (Number.isFinite(declared) && declared > maxBytes) {
        discard(res.body);
        return failureResult('backend answered more than the gateway accepts', `response over ${maxBytes} bytes`, status, 'upstream-error');
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) {
          discard(res.body);
          return failureResult('backend answered more than the gateway accepts', `response over ${maxBytes} bytes`, status, 'upstream-error');
        }
        chunks.push(chunk);
      }
      return toolResult({ status, contentType, body: Buffer.concat(chunks) }, config.server.maxJsonDepth);
    } catch (err) {
      if (res !== undefined) discard(res.body);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const code = errorCode(err);
      const status = res?.statusCode;
      if (timeout.signal.aborted || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        return failureResult('backend timed out', `backend timed out (${timeout.signal.aborted ? `${route.timeoutMs} ms` : code})`, status, 'upstream-timeout');
      }
      return failureResult('backend unavailable', `backend unavailable (${code})`, status, 'upstream-unavailable');
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    id: 'config',
    kind: 'http',
    definitions: Object.freeze(tools.map((t) => t.definition)),
    call,
    maxArgumentBytes: (name) => byName.get(name)?.maxArgumentBytes,
    close: () => agents.close(),
  };
}

/** Drops a response body we will not read; the error its destruction emits is expected. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
