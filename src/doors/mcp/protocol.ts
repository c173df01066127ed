/**
 * The MCP wire constants the endpoint speaks: protocol versions, header names, `_meta` keys and
 * JSON-RPC error codes. One place, so docs/mcp.md and the code cannot drift apart silently.
 */

/**
 * The stateless revision: every request carries its version and capabilities in `_meta`, no
 * `initialize`, no session (spec 2026-07-28, basic/versioning).
 */
export const MODERN_VERSION = '2026-07-28';

/**
 * Session-based revisions over Streamable HTTP, newest first. `initialize` negotiates one of
 * them; a client asking for another gets the newest (spec 2025-11-25, lifecycle).
 */
export const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'] as const;

/**
 * What a request without `MCP-Protocol-Version` is taken to speak: clients older than
 * 2025-06-18 did not send the header (spec 2025-06-18, transports: "the server SHOULD assume
 * protocol version 2025-03-26").
 */
export const DEFAULT_LEGACY_VERSION = '2025-03-26';

/** Every version the endpoint accepts, newest first (the `supported` list of error -32022). */
export const SUPPORTED_VERSIONS: readonly string[] = [MODERN_VERSION, ...LEGACY_VERSIONS];

/** Request headers, lower case as node:http gives them. */
export const HEADER = {
  sessionId: 'mcp-session-id',
  protocolVersion: 'mcp-protocol-version',
  method: 'mcp-method',
  name: 'mcp-name',
  paramPrefix: 'mcp-param-',
} as const;

/** Reserved `_meta` keys of the stateless revision (spec 2026-07-28, basic/index `_meta`). */
export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
} as const;

/** JSON-RPC error codes: the standard ones, then the MCP-defined ones (spec 2026-07-28 schema). */
export const RPC = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** HTTP headers do not match the body, or a required one is missing or malformed. */
  headerMismatch: -32020,
  /** The requested protocol version is not one the server supports (`data.supported`). */
  unsupportedProtocolVersion: -32022,
  /** The call needs the user to open a page first (`data.elicitations`, URL mode; spec 2025-11-25). */
  urlElicitationRequired: -32042,
} as const;

/**
 * behalf's own JSON-RPC error codes, outside the range JSON-RPC and MCP reserve (-32768 to
 * -32000), as the spec asks of application-defined errors. Each mirrors an HTTP status so it
 * reads at a glance; `error.data.reason` carries the stable reason code.
 */
export const BEHALF_RPC = {
  /** No valid token (sent with HTTP 401 and the bearer challenge). */
  unauthorized: -31401,
  /** Policy refused the call (reason `no-matching-rule`, `denied-by-rule`, `insufficient-scope`, ...). */
  forbidden: -31403,
  /** An upstream MCP server could not be reached, or failed, for a request other than `tools/call` (whose failures are `isError` results). */
  badGateway: -31502,
  /** An upstream MCP server did not answer within its `timeoutMs`. */
  gatewayTimeout: -31504,
  /** The client cancelled the call and only accepts JSON, so something has to end the exchange. */
  cancelled: -31499,
  /** The audit trail cannot be written: the call is refused rather than left unrecorded. */
  unavailable: -31503,
  /** A limit refused the call (sent with HTTP 429, `Retry-After` and the RateLimit fields; `data.retryAfter` in seconds). */
  tooManyRequests: -31429,
} as const;

/**
 * The methods the endpoint can answer. Those after `tools/call` are answered only when an
 * upstream serves them (see capabilities.ts); anything else is -32601.
 */
export const METHODS = [
  'initialize',
  'ping',
  'server/discover',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
] as const;

/** A method the endpoint answers. */
export type McpMethod = (typeof METHODS)[number];

/** True for a method the endpoint answers. */
export function isKnownMethod(method: string): method is McpMethod {
  return (METHODS as readonly string[]).includes(method);
}

/** `serverInfo` / `io.modelcontextprotocol/serverInfo`. */
export const SERVER_INFO = { name: 'behalf', version: '0.1.0' } as const;

/** What the endpoint always serves: tools; the list is not pushed when it changes. See capabilities.ts for the rest. */
export const SERVER_CAPABILITIES = { tools: { listChanged: false } } as const;

/**
 * `ttlMs` of a `tools/list` result (stateless revision; also `resources/list`,
 * `resources/templates/list` and `prompts/list`): how long a client may reuse a list, ms. Short,
 * because the list follows the directory and policy, which can change (60 s).
 */
export const TOOLS_LIST_TTL_MS = 60_000;

/** `ttlMs` of a `server/discover` result: versions and capabilities change only on redeploy (5 min). */
export const DISCOVER_TTL_MS = 300_000;
