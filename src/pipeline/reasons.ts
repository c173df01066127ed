/**
 * Stable reason codes carried by every decision and audit record. They are part of the public
 * contract (audit queries, dashboards, `behalf policy test` files): never rename one.
 */
export const REASONS = {
  // authenticate
  'token-missing': 'no bearer token was sent',
  'token-malformed': 'the Authorization header or token is malformed',
  'token-too-large': 'the token exceeds the size bound',
  'token-in-query': 'a token was sent in the query string',
  'token-duplicate': 'more than one Authorization header or token was sent',
  'token-invalid': 'the token failed verification (signature, algorithm, claims)',
  'token-expired': 'the token has expired',
  'token-not-yet-valid': 'the token is not valid yet (nbf/iat in the future)',
  'issuer-unknown': 'the token issuer is not configured',
  'issuer-not-allowed': 'the token issuer is not allowed on this route',
  'audience-mismatch': 'the token audience does not include this resource',
  'token-type-invalid': 'the token type (typ) is not the one required',
  'idp-unavailable': 'the identity provider keys could not be fetched',
  'token-revoked': 'the token, its user or its client has been revoked (behalf revoke)',
  'revocation-unavailable': 'revocations could not be synced from their store (revocation.onStoreError: deny)',
  // resolve
  'route-not-found': 'no route or tool matches',
  'method-not-allowed': 'the route does not accept this method',
  // screen
  'bad-request': 'the request is malformed',
  'body-too-large': 'the request body exceeds the size bound',
  'query-repeated': 'a query parameter name is given more than once (compared after decoding)',
  'query-malformed': 'the query string has percent-encoding that does not decode',
  'json-duplicate-key': 'a JSON body or message has an object that names the same key twice',
  'json-too-deep': 'a JSON body or message nests arrays and objects deeper than server.maxJsonDepth',
  'json-too-many-values': 'a JSON body or message holds more values than server.maxJsonValues',
  'arguments-too-large': 'the tool arguments are larger than the tool accepts (maxArgumentBytes)',
  // authorize
  'allowed-by-rule': 'a policy rule allowed the request',
  'denied-by-rule': 'a deny rule matched',
  'no-matching-rule': 'no rule allows the request (deny by default)',
  'insufficient-scope': 'the token lacks a scope the operation needs',
  'missing-role': 'the user lacks a role the rule needs',
  'missing-group': 'the user lacks a group the rule needs',
  'condition-error': 'a policy condition failed to evaluate (fail closed)',
  // forward
  'upstream-unavailable': 'the backend could not be reached',
  'upstream-timeout': 'the backend did not answer in time',
  'upstream-error': 'the backend connection failed mid-response',
  // audit
  'audit-unavailable': 'the audit record could not be written (fail closed)',
  // receive: refused by the HTTP parser before any stage (docs/security.md)
  'malformed-request': 'the HTTP parser refused the request (framing, request line or header syntax)',
  'headers-too-large': 'the request headers exceed server.maxHeaderBytes',
  'request-timeout': 'the request did not arrive within the server timeouts',
  'method-not-supported': 'a method the gateway never serves (CONNECT)',
  'body-not-allowed': 'a GET, HEAD, DELETE or TRACE request carries a body (a route may allow one with allowBodyOn)',
  // connections closed as they are accepted, before any request (docs/operations.md)
  'connection-limit': 'the listener already holds server.maxConnections connections',
  'connection-limit-per-address': 'the client address already holds server.maxConnectionsPerAddress connections',
  // generic
  'internal-error': 'an unexpected fault',
  // upstream MCP servers: tool pinning (audit records of the gateway itself, not of a request)
  'tool-pinned': 'an upstream tool was seen for the first time and pinned (trust on first use)',
  'tool-definition-changed': 'an upstream tool definition differs from its pin',
  // MCP door (docs/mcp.md)
  'origin-not-allowed': 'the Origin header names a site that may not call the MCP endpoint',
  'session-required': 'an MCP request after initialize came without its Mcp-Session-Id',
  'session-not-found': 'the MCP session is unknown, expired, ended, or belongs to another user',
  'protocol-version-unsupported': 'the MCP protocol version asked for is not supported',
  'header-mismatch': 'MCP request headers are missing or do not match the body',
  'rpc-method-not-found': 'the JSON-RPC method is not one the MCP endpoint serves',
  'invalid-arguments': 'the tool arguments do not match the tool input schema',
  'protocol-message': 'an MCP message that calls no tool (initialize, ping, discover, list, notifications)',
  // limit (docs/limits.md)
  'rate-limited': 'a rate limit rule allows no more requests right now',
  'quota-exceeded': 'the quota of the current period is used up',
  'concurrency-limited': 'too many requests of the same key are in flight',
  'runaway-agent': 'the same call (user, tool, arguments) was repeated too often in a short time',
  'limit-store-unavailable': 'the limit store could not be reached (limits.onStoreError: deny)',
  // approve (docs/approvals.md)
  'approval-required': 'the rule that allows the request asks for a person\'s approval, which is not given yet',
  'approval-denied': 'an approver refused the request',
  'approval-invalid': 'the Behalf-Approval sent is unknown, for another request, used or expired',
  'approver-missing': 'the rule asks for an approval but names nobody who could give it for this user (no manager)',
  'approval-unavailable': 'the approval store could not be reached (fail closed)',
  // admin API (docs/approvals.md): audit records of decisions
  'approval-granted': 'an approver approved a request',
  'approval-refused': 'an approver refused a request',
  // admin API (docs/operations.md): audit records of revocation changes
  'revocation-added': 'an operator revoked a user, a client or a token',
  'revocation-removed': 'an operator lifted a revocation',
} as const;

export type Reason = keyof typeof REASONS;
