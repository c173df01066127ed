import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { assertionForm, headerName, httpUrl, id, keepSetting, method, pathPrefix, toolPattern } from './schema-fields.js';

// The MCP sections of the config: the endpoint (`mcp`), tools declared in the config (`tools`)
// and upstream MCP servers (`upstreams`). Part of `configSchema` (schema.ts).

/** The MCP endpoint (Streamable HTTP). */
export const mcpSchema = z.strictObject({
  /** Path of the endpoint on the gateway. */
  path: pathPrefix.default(DEFAULTS.mcpPath),
  /**
   * Browser origins allowed to call the endpoint (`Origin` header). A request without `Origin`
   * (not a browser) is allowed; one with an origin not listed (nor the public URL's) gets 403.
   */
  allowedOrigins: z.array(httpUrl).default([]),
  /** A session idle this long is forgotten, s. */
  sessionIdleSeconds: z.number().int().min(10).max(86_400).default(DEFAULTS.mcpSessionIdleSeconds),
  /** Most sessions held at once (oldest idle ones are dropped first). */
  maxSessions: z.number().int().min(1).default(DEFAULTS.mcpMaxSessions),
  /** Request body bound for the endpoint (default `server.maxBodyBytes`). */
  maxBodyBytes: z.number().int().min(0).optional(),
  /** Largest arguments of a tool call, bytes of their JSON text as sent, for every tool that sets none of its own (`tools[]`, `upstreams[]`). */
  maxArgumentBytes: z.number().int().min(0).default(DEFAULTS.toolMaxArgumentBytes),
  /** Issuer ids whose tokens the endpoint accepts (default: all). */
  issuers: z.array(id).min(1).optional(),
});

const toolName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'must be 1-128 letters, digits, "_", "." or "-"');

export const toolAnnotationsSchema = z.strictObject({
  title: z.string().optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});

/** A tool declared in the config: an HTTP call to a route's backend, with identity injected. */
export const toolSchema = z.strictObject({
  name: toolName,
  title: z.string().optional(),
  description: z.string().default(''),
  /** JSON Schema of the arguments (an object schema); validated with ajv at start. */
  inputSchema: z.record(z.string(), z.unknown()).default({ type: 'object' }),
  outputSchema: z.record(z.string(), z.unknown()).optional(),
  annotations: toolAnnotationsSchema.optional(),
  /** Largest arguments of a call, bytes of their JSON text as sent (default `mcp.maxArgumentBytes`). */
  maxArgumentBytes: z.number().int().min(0).optional(),
  /** What the audit record keeps of this tool's arguments (default `audit.arguments`). */
  audit: z.strictObject({ arguments: keepSetting.optional() }).optional(),
  call: z.strictObject({
    /** The route whose upstream, audience, identity headers, assertion and timeouts apply. */
    route: id,
    method: method.default(DEFAULTS.toolMethod),
    /**
     * Path under the route's upstream base path; `{arg}` is replaced by the percent-encoded
     * argument. `""` is the base path itself (`/v1`), `/` the base path and a slash (`/v1/`).
     */
    path: z.string().regex(/^(?:$|\/)/, 'must be "" (the route\'s upstream base path itself) or start with "/"'),
    /** Query parameters: `{arg}` templates; a parameter whose argument is absent is left out. */
    query: z.record(z.string(), z.string()).default({}),
    /** JSON body: `"$args"` (all arguments), or an object whose string values may be `{arg}` templates. */
    body: z.union([z.literal('$args'), z.record(z.string(), z.unknown())]).optional(),
  }),
});

/** An upstream MCP server that behalf fronts. */
export const upstreamSchema = z
  .strictObject({
    id,
    transport: z.enum(['http', 'stdio']).default(DEFAULTS.upstreamTransport),
    /** Streamable HTTP endpoint (transport http). */
    url: httpUrl.optional(),
    /** Command and arguments (transport stdio): started by the gateway, never by a client. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    /** Prefix of its tools' names: `<namespace>.<tool>` (default: the id); `""` serves its tools under their own names (at most one upstream). */
    namespace: z.string().regex(/^(?:[A-Za-z0-9_-]{1,64})?$/).optional(),
    /** The gateway's own credential for this upstream (e.g. `Authorization: "Bearer ${HR_MCP_KEY}"`); never the user's token. */
    headers: z.record(headerName, z.string()).default({}),
    /** Where the signed assertion goes: an HTTP header, the request's `_meta`, or both. */
    identity: z
      .strictObject({
        header: headerName.optional().default(DEFAULTS.assertionHeader),
        meta: z.boolean().default(true),
        audience: z.string().min(1).optional(),
        ttlSeconds: z.number().int().min(1).max(60).default(DEFAULTS.assertionTtlSeconds),
        /** `batched` or `jwt`, as `routes[].assertion.form`. */
        form: assertionForm.default(DEFAULTS.assertionForm),
      })
      .prefault({}),
    /** A tool whose definition changed since it was pinned: `block` it, `flag` it (audited, still served), or `off`. */
    pinning: z.enum(['block', 'flag', 'off']).default(DEFAULTS.upstreamPinning),
    /**
     * The upstream's own names of tools the operator vouches only read: their calls' audit
     * records need not be fsynced before the answer (`audit.syncBeforeResponse: changes`), like
     * GET on a route. The upstream's own `readOnlyHint` is not trusted for this. A name may end
     * in `*` (`get_*`: every tool whose own name starts with `get_`).
     */
    readOnlyTools: z.array(toolPattern).default([]),
    /** Largest arguments of a call to any of its tools, bytes of their JSON text as sent (default `mcp.maxArgumentBytes`). */
    maxArgumentBytes: z.number().int().min(0).optional(),
    /**
     * What the audit record keeps of its tools' arguments (default `audit.arguments`); `tools`
     * sets it for one tool, by the upstream's own name of it.
     */
    audit: z.strictObject({ arguments: keepSetting.optional(), tools: z.record(z.string(), keepSetting).optional() }).optional(),
    timeoutMs: z.number().int().min(1).max(600_000).default(DEFAULTS.requestTimeoutMs),
    /**
     * The upstream's circuit breaker: it opens on the upstream's health (failed connection
     * attempts and session checks in a row), never on one caller's call; while open, calls
     * answer "upstream unavailable" at once and a trial connection is made after `openMs`.
     */
    circuit: z
      .strictObject({
        /** Failed health checks in a row that open the circuit. */
        failures: z.number().int().min(1).max(100).default(DEFAULTS.upstreamCircuitFailures),
        /** First wait before a trial connection, ms (doubles after each failed trial). */
        openMs: z.number().int().min(10).max(600_000).default(DEFAULTS.upstreamCircuitOpenMs),
        /** Longest wait between trial connections, ms. */
        maxOpenMs: z.number().int().min(10).max(3_600_000).default(DEFAULTS.upstreamCircuitMaxOpenMs),
        /** How long the `ping` that checks the session after an unreachable call may take, ms. */
        probeTimeoutMs: z.number().int().min(1).max(600_000).default(DEFAULTS.upstreamProbeTimeoutMs),
      })
      .refine((c) => c.maxOpenMs >= c.openMs, { message: 'maxOpenMs must not be below openMs', path: ['maxOpenMs'] })
      .prefault({}),
  })
  .refine((u) => (u.transport === 'http' ? u.url !== undefined : u.command !== undefined), 'http needs "url"; stdio needs "command"');
