/**
 * The verified caller, normalised from whichever IdP issued the token. Built only by the
 * authenticate stage from a verified token; never from a client-supplied header.
 */
export interface Identity {
  /**
   * The user as behalf names them: the token's user id (usually `sub`, per the issuer's claim
   * mapping), qualified `<issuer id>:<id>` for users of an issuer other than the home one
   * (user-names.ts). Policy, directory, assertion, limits and audit all use this one name.
   */
  readonly id: string;
  /** The token's own user id, present only when `id` is qualified. */
  readonly subject?: string;
  /** The `iss` of the verified token. */
  readonly issuer: string;
  /** The configured id of the issuer entry that verified the token. */
  readonly issuerId: string;
  readonly tenant?: string;
  readonly email?: string;
  readonly name?: string;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly scopes: readonly string[];
  /** The acting client (the LLM or agent): `azp` or `client_id`. */
  readonly client?: string;
  /** The token's `jti`, when present (used for revocation, never logged with the token). */
  readonly tokenId?: string;
  /** The token's `iat`, epoch seconds, when present (user and client revocations compare it). */
  readonly issuedAt?: number;
  /** Token expiry, epoch seconds. */
  readonly expiresAt: number;
}

/** Directory attributes joined to an identity by the resolve stage. */
export interface DirectoryEntry {
  readonly id: string;
  readonly name?: string;
  readonly email?: string;
  readonly manager?: string;
  readonly department?: string;
  readonly title?: string;
  /** Direct reports (derived from everyone's `manager`). */
  readonly reports: readonly string[];
  /** Everyone below this person in the management chain (derived). */
  readonly team: readonly string[];
}
