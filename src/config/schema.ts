import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { assertionForm, headerName, httpUrl, id, keepSetting, method, pathPrefix, toolPattern } from './schema-fields.js';
import { mcpSchema, toolSchema, upstreamSchema } from './schema-mcp.js';
import { approvalsSchema, ruleApprovalSchema } from './schema-approvals.js';
import { adminSchema, auditSchema, clientsSchema, limitsSchema, portSchema, revocationSchema } from './schema-operations.js';

export { adminSchema, auditSchema, clientsSchema, limitRuleSchema, limitsSchema, revocationSchema } from './schema-operations.js';
export { approvalsSchema, approversSchema, ruleApprovalSchema } from './schema-approvals.js';
export { mcpSchema, toolAnnotationsSchema, toolSchema, upstreamSchema } from './schema-mcp.js';

/**
 * The single source of truth for behalf's configuration. Types come from it (`Config`), a JSON
 * Schema is generated from it (`behalf schema`), and a validated config is deeply frozen. Every
 * default value comes from `DEFAULTS` (defaults.ts); a section left out is parsed from `{}`
 * (`prefault`), so its fields' own defaults apply and are never restated here.
 */

export const algorithmSchema = z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

export const claimPresetSchema = z.enum(['generic', 'auth0', 'okta', 'entra', 'keycloak']);

/** Claim names (dot paths allowed, e.g. `realm_access.roles`) that override a preset. */
export const claimMappingSchema = z.strictObject({
  id: z.string().optional(),
  tenant: z.string().optional(),
  email: z.string().optional(),
  name: z.string().optional(),
  roles: z.string().optional(),
  groups: z.string().optional(),
  scopes: z.string().optional(),
  client: z.string().optional(),
});

export const issuerSchema = z
  .strictObject({
    id,
    issuer: z.string().min(1),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((a) => (Array.isArray(a) ? a : [a])),
    algorithms: z.array(algorithmSchema).min(1).default([...DEFAULTS.algorithms]),
    /** Explicit JWKS URL; when absent, discovery (OIDC then RFC 8414) finds it. */
    jwksUri: httpUrl.optional(),
    /** Discovery document URL override; default `<issuer>/.well-known/openid-configuration`. */
    discoveryUrl: httpUrl.optional(),
    clockSkewSeconds: z.number().int().min(0).max(600).default(DEFAULTS.clockSkewSeconds),
    /**
     * How often this issuer's JWKS may be fetched again (docs/authentication.md#jwks-refresh):
     * `minIntervalMs` between any two fetches (ms), and `perMinute` fetches caused by tokens (an
     * unknown `kid`, a bad signature under a known one), the bound against floods of random kids.
     */
    jwksRefetch: z
      .strictObject({
        minIntervalMs: z.number().int().min(0).max(60_000).default(DEFAULTS.jwksRefetchMinIntervalMs),
        perMinute: z.number().int().min(1).max(600).default(DEFAULTS.jwksRefetchesPerMinute),
      })
      .prefault({}),
    requireType: z.enum(['at+jwt', 'application/at+jwt']).optional(),
    claims: z.strictObject({ preset: claimPresetSchema.default(DEFAULTS.claimPreset), map: claimMappingSchema.default({}) }).prefault({}),
    /** Fixed tenant for every token of this issuer (single-tenant IdPs). */
    tenant: z.string().optional(),
  });

export const identityHeadersSchema = z.record(headerName, z.string());

export const routeSchema = z.strictObject({
  id,
  /** Path prefix on the gateway; matches `/prefix` and `/prefix/...`. */
  path: pathPrefix,
  methods: z.array(method).min(1).optional(),
  /** Upstream base URL; its own path is kept: `/prefix/x` -> `<upstream path>/x`. */
  upstream: httpUrl,
  /** Ids of the issuers whose tokens this route accepts (default: all). */
  issuers: z.array(id).min(1).optional(),
  /** Audience put in the signed assertion (default: the upstream origin). */
  audience: z.string().min(1).optional(),
  assertion: z
    .strictObject({
      enabled: z.boolean().default(true),
      header: headerName.default(DEFAULTS.assertionHeader),
      ttlSeconds: z.number().int().min(1).max(60).default(DEFAULTS.assertionTtlSeconds),
      /** `batched`: one signature per event-loop turn over a Merkle tree (docs/batched-assertions.md); `jwt`: one signature per request. */
      form: assertionForm.default(DEFAULTS.assertionForm),
    })
    .prefault({}),
  /** Headers injected from the verified identity, e.g. `X-User-Id: "{user.id}"`. */
  identityHeaders: identityHeadersSchema.default({}),
  /** Extra client headers removed before forwarding (the built-in list is always removed). */
  stripHeaders: z.array(headerName).default([]),
  /**
   * Allow-list mode: when set, only these client headers (compared in normal form: lower case,
   * `_` as `-`) reach the backend, besides what the gateway sets itself; every other client
   * header is dropped. For backends that read identity headers behalf does not know.
   */
  forwardHeaders: z.array(headerName).optional(),
  forwardCookies: z.boolean().default(false),
  timeoutMs: z.number().int().min(1).max(600_000).default(DEFAULTS.requestTimeoutMs),
  connectTimeoutMs: z.number().int().min(1).max(60_000).default(DEFAULTS.connectTimeoutMs),
  maxBodyBytes: z.number().int().min(0).optional(),
  /**
   * Methods without a body in HTTP (GET, HEAD, DELETE) on which this route accepts one anyway; on
   * any other, a request that carries a body (Content-Length above 0, or Transfer-Encoding) is
   * refused with 400 `body-not-allowed` and never forwarded. TRACE never may.
   */
  allowBodyOn: z
    .array(
      z
        .string()
        .transform((m) => m.toUpperCase())
        .pipe(z.enum(['GET', 'HEAD', 'DELETE'])),
    )
    .default([...DEFAULTS.allowBodyOn]),
  /**
   * What a path may hold that is refused by default, and how policy matches it (docs/security.md):
   * an encoded `%`, `;` parameters and non-ASCII characters are refused unless allowed here;
   * `caseInsensitive` makes policy match the lower-cased path (for a backend that folds case).
   */
  pathRules: z
    .strictObject({
      allowEncodedPercent: z.boolean().default(false),
      allowSemicolons: z.boolean().default(false),
      allowNonAscii: z.boolean().default(false),
      caseInsensitive: z.boolean().default(false),
    })
    .prefault({}),
  /**
   * How the query is read (docs/security.md). `repeated: refuse` (the default) answers 400
   * `query-repeated` to a name given twice (`?a=1&a=2`, `?a=1&%61=2`, `?a=1&A=2`); `allow` keeps
   * every value in CEL's `request.queryAll` and leaves the name out of `request.query`.
   */
  query: z
    .strictObject({
      repeated: z.enum(['refuse', 'allow']).default(DEFAULTS.queryRepeated),
    })
    .prefault({}),
  /** What the audit record keeps of the query (default `audit.query`); the path is kept as sent. */
  audit: z.strictObject({ query: keepSetting.optional() }).optional(),
});

export const policyMatchSchema = z.strictObject({
  routes: z.array(id).min(1).optional(),
  /** Tool names, or patterns ending in `*` (`hr.*`: every tool of upstream `hr`; `*`: every tool). */
  tools: z.array(toolPattern).min(1).optional(),
  /** MCP resource URIs of upstreams (`resources/read`, listing, subscribing): exact, or with `*` matching any characters. */
  resources: z.array(z.string().min(1).max(2_048)).min(1).optional(),
  /** MCP prompt names (namespaced like tools: `hr.review_summary`), exact. */
  prompts: z.array(z.string().min(1)).min(1).optional(),
  methods: z.array(method).min(1).optional(),
  /** Path pattern on the gateway: `/api/hr/reviews/:employee`, `*` matches the rest. */
  paths: z.array(z.string().regex(/^\//, 'must start with "/"')).min(1).optional(),
});

export const policyRuleSchema = z.strictObject({
  id,
  description: z.string().optional(),
  effect: z.enum(['allow', 'deny']),
  match: policyMatchSchema.default({}),
  scopes: z.array(z.string().min(1)).default([]),
  roles: z.array(z.string().min(1)).default([]),
  groups: z.array(z.string().min(1)).default([]),
  /** CEL over `user`, `request`, `body`, `directory`. */
  when: z.string().min(1).optional(),
  /** An allow rule only: what it allows waits for a person's approval (docs/approvals.md). */
  approval: ruleApprovalSchema.optional(),
});

export const directorySchema = z
  .strictObject({
    file: z.string().min(1).optional(),
    url: httpUrl.optional(),
    refreshMs: z.number().int().min(1_000).default(DEFAULTS.directoryRefreshMs),
    /** Optional header for the HTTP source, e.g. `Authorization: "Bearer ${DIRECTORY_TOKEN}"`. */
    headers: z.record(headerName, z.string()).default({}),
    /**
     * The id of the issuer whose users the directory describes (default: the only issuer). A user
     * id means one person only within one IdP: tokens of any other issuer get no entry.
     */
    issuer: id.optional(),
  })
  .refine((d) => (d.file === undefined) !== (d.url === undefined), 'set exactly one of "file" or "url"');

export const signingSchema = z.strictObject({
  algorithm: z.enum(['ES256', 'EdDSA']).default(DEFAULTS.signingAlgorithm),
  /** JWK set file holding the private keys; generated on first start when absent. */
  keyFile: z.string().min(1).default(DEFAULTS.signingKeyFile),
  /** Rotate: generate a new key when the newest is older than this (0 = never). */
  rotateAfterDays: z.number().min(0).default(DEFAULTS.keyRotateAfterDays),
  overlapSeconds: z.number().int().min(0).default(DEFAULTS.keyRotationOverlapSeconds),
  /** Bounds of batched assertions (routes and upstreams with `form: batched`). */
  batch: z
    .strictObject({
      /** Longest wait of a batch's first assertion for others, µs (a batch is signed at the latest at the end of its event-loop turn). */
      maxWaitMicroseconds: z.number().int().min(0).max(10_000).default(DEFAULTS.assertionBatchMaxWaitMicroseconds),
      /** Most assertions under one signature. */
      maxLeaves: z.number().int().min(2).max(4_096).default(DEFAULTS.assertionBatchMaxLeaves),
    })
    .prefault({}),
});

export const serverSchema = z.strictObject({
  host: z.string().default(DEFAULTS.listenHost),
  port: portSchema.default(DEFAULTS.listenPort),
  /** The gateway's external URL: the only source of it (never Host or X-Forwarded-*). */
  publicUrl: httpUrl,
  maxBodyBytes: z.number().int().min(0).default(DEFAULTS.maxBodyBytes),
  maxTokenBytes: z.number().int().min(256).default(DEFAULTS.maxTokenBytes),
  /**
   * Most levels of nested arrays and objects in a JSON request body (parsed for policy), an MCP
   * message or a tool's result; a deeper request is refused (400 `json-too-deep`), a deeper result
   * replaced by an `isError` result. At most 1,000: what reads a value after the parse may recurse.
   */
  maxJsonDepth: z.number().int().min(1).max(1_000).default(DEFAULTS.jsonMaxDepth),
  /** Most values (objects, arrays, strings, numbers, literals) in a JSON request body or an MCP message; more is refused (413 `json-too-many-values`). */
  maxJsonValues: z.number().int().min(1).default(DEFAULTS.jsonMaxValues),
  /** Bound on a request's headers in all, bytes (Node's parser answers 431 past it); keep it above `maxTokenBytes`. */
  maxHeaderBytes: z.number().int().min(1_024).max(1_048_576).default(DEFAULTS.maxHeaderBytes),
  /** Time for a client to send a request's head, ms (from the connection, or from the first byte of a later request); 408 past it. */
  headersTimeoutMs: z.number().int().min(1_000).max(600_000).default(DEFAULTS.headersTimeoutMs),
  /** Time for a client to send a whole request, head and body, ms; 408 past it. At least `headersTimeoutMs`. */
  requestTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(DEFAULTS.clientRequestTimeoutMs),
  /** Connections the listener holds at once; a connection past it is closed as it is accepted. */
  maxConnections: z.number().int().min(1).default(DEFAULTS.maxConnections),
  /** Connections from one client address (IPv6: one /64) at once; 0 = no bound (behind a balancer, every connection has its address). */
  maxConnectionsPerAddress: z.number().int().min(0).default(DEFAULTS.maxConnectionsPerAddress),
  /** Authorization servers advertised in protected resource metadata (default: issuers). */
  authorizationServers: z.array(z.string().min(1)).optional(),
  /** Extra header names always removed before forwarding, on every route. */
  stripHeaders: z.array(headerName).default([]),
}).refine((s) => s.headersTimeoutMs <= s.requestTimeoutMs, { path: ['headersTimeoutMs'], message: 'must not exceed requestTimeoutMs' });

export const configSchema = z
  .strictObject({
    server: serverSchema,
    issuers: z.array(issuerSchema).min(1),
    directory: directorySchema.optional(),
    signing: signingSchema.prefault({}),
    routes: z.array(routeSchema).default([]),
    mcp: mcpSchema.optional(),
    limits: limitsSchema.prefault({}),
    revocation: revocationSchema.prefault({}),
    /** Absent: no admin API (revocations then need a gateway with one). */
    admin: adminSchema.optional(),
    tools: z.array(toolSchema).default([]),
    upstreams: z.array(upstreamSchema).default([]),
    policies: z.array(policyRuleSchema).default([]),
    audit: auditSchema.prefault({}),
    approvals: approvalsSchema.prefault({}),
    /** Readable names of acting clients, for the audit CLI (`[{ id, name }]`). */
    clients: clientsSchema,
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULTS.logLevel) }).prefault({}),
  })
  .superRefine((c, ctx) => {
    const unique = (items: { id: string }[], key: string) => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate id "${item.id}"` });
        seen.add(item.id);
      });
    };
    unique(c.issuers, 'issuers');
    unique(c.routes, 'routes');
    if (c.directory !== undefined) {
      const issuer = c.directory.issuer;
      if (issuer === undefined && c.issuers.length > 1) {
        ctx.addIssue({ code: 'custom', path: ['directory', 'issuer'], message: 'required when several issuers are configured: the id of the issuer whose users the directory describes' });
      } else if (issuer !== undefined && !c.issuers.some((i) => i.id === issuer)) {
        ctx.addIssue({ code: 'custom', path: ['directory', 'issuer'], message: `unknown issuer "${issuer}"` });
      }
    }
    unique(c.policies, 'policies');
    unique(c.upstreams, 'upstreams');
    unique(c.limits.rules, 'limits.rules');
    const toolNames = new Set<string>();
    c.tools.forEach((t, i) => {
      if (toolNames.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tools', i, 'name'], message: `duplicate tool "${t.name}"` });
      toolNames.add(t.name);
    });
    const issuerIds = new Set(c.issuers.map((i) => i.id));
    c.routes.forEach((r, i) =>
      r.issuers?.forEach((iss, j) => {
        if (!issuerIds.has(iss)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'issuers', j], message: `unknown issuer "${iss}"` });
      }),
    );
    const routeIds = new Set(c.routes.map((r) => r.id));
    c.tools.forEach((t, i) => {
      if (!routeIds.has(t.call.route)) ctx.addIssue({ code: 'custom', path: ['tools', i, 'call', 'route'], message: `unknown route "${t.call.route}"` });
    });
    c.mcp?.issuers?.forEach((iss, j) => {
      if (!issuerIds.has(iss)) ctx.addIssue({ code: 'custom', path: ['mcp', 'issuers', j], message: `unknown issuer "${iss}"` });
    });
    c.policies.forEach((p, i) => {
      if (p.approval !== undefined && p.effect !== 'allow') ctx.addIssue({ code: 'custom', path: ['policies', i, 'approval'], message: 'only an allow rule can ask for an approval' });
      p.match.routes?.forEach((r, j) => {
        if (!routeIds.has(r)) ctx.addIssue({ code: 'custom', path: ['policies', i, 'match', 'routes', j], message: `unknown route "${r}"` });
      });
      // A request is a route, a tool, a resource or a prompt: a rule naming two kinds never applies.
      const kinds = (['routes', 'tools', 'resources', 'prompts'] as const).filter((k) => p.match[k] !== undefined);
      if (kinds.length > 1 && kinds.some((k) => k === 'resources' || k === 'prompts')) {
        ctx.addIssue({ code: 'custom', path: ['policies', i, 'match'], message: `"${kinds.join('" and "')}" never apply together: split the rule` });
      }
    });
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type IssuerConfig = Config['issuers'][number];
export type RouteConfig = Config['routes'][number];
export type PolicyRule = Config['policies'][number];
export type DirectoryConfig = NonNullable<Config['directory']>;
export type SigningConfig = Config['signing'];
export type AuditConfig = Config['audit'];
export type ClaimPreset = z.infer<typeof claimPresetSchema>;
export type McpConfig = z.output<typeof mcpSchema>;
export type ToolConfig = Config['tools'][number];
export type UpstreamConfig = Config['upstreams'][number];
export type LimitsConfig = Config['limits'];
export type LimitRule = Config['limits']['rules'][number];
export type RevocationConfig = Config['revocation'];
export type AdminConfig = NonNullable<Config['admin']>;
export type ApprovalsConfig = Config['approvals'];
export type RuleApproval = NonNullable<PolicyRule['approval']>;
