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
  // resolve
  'route-not-found': 'no route or tool matches',
  'method-not-allowed': 'the route does not accept this method',
  // screen
  'bad-request': 'the request is malformed',
  'body-too-large': 'the request body exceeds the size bound',
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
  // generic
  'internal-error': 'an unexpected fault',
} as const;

export type Reason = keyof typeof REASONS;
