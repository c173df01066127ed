import { randomBytes } from 'node:crypto';

/** A registered public client (RFC 7591). */
export interface DevClient {
  readonly clientId: string;
  readonly redirectUris: readonly string[];
  readonly name?: string;
  readonly issuedAt: number;
}

/** What an authorization code or refresh token stands for. */
export interface Grant {
  readonly clientId: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  /** The token audience chosen at /authorize (RFC 8707 `resource`), when one was asked for. */
  readonly resource?: string;
}

/** A one-time authorization code and the request it is bound to. */
export interface CodeGrant extends Grant {
  readonly redirectUri: string;
  readonly codeChallenge: string;
}

/** Lifetimes and bounds of the dev IdP's state. */
export const STORE_LIMITS = {
  codeTtlMs: 60_000, // 1 min: RFC 6749 §4.1.2 recommends at most 10 min
  refreshTtlMs: 86_400_000, // 24 h
  maxClients: 1_000,
  maxCodes: 10_000,
  maxRefreshTokens: 10_000,
} as const;

/** An opaque, unguessable value: 32 random bytes, base64url. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A bounded map whose entries expire; oldest entries are dropped first when full. */
class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  constructor(
    private readonly max: number,
    private readonly now: () => number,
  ) {}

  set(key: string, value: V, ttlMs: number): void {
    const t = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= t) this.entries.delete(k);
    while (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt: t + ttlMs });
  }

  /** Remove and return: every code and refresh token is usable once. */
  take(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    return e.expiresAt > this.now() ? e.value : undefined;
  }
}

/**
 * In-memory state of the dev IdP: registered clients, one-time authorization codes, refresh
 * tokens. Everything is lost on restart, on purpose.
 *
 * DEV ONLY. This does NOT persist, does NOT authenticate clients (public clients only) and
 * does NOT revoke tokens issued from a reused code (RFC 6749 §4.1.2 says it SHOULD).
 */
export class OAuthStore {
  private readonly clients = new Map<string, DevClient>();
  private readonly codes: ExpiringMap<CodeGrant>;
  private readonly refresh: ExpiringMap<Grant>;

  constructor(private readonly now: () => number) {
    this.codes = new ExpiringMap(STORE_LIMITS.maxCodes, now);
    this.refresh = new ExpiringMap(STORE_LIMITS.maxRefreshTokens, now);
  }

  registerClient(redirectUris: readonly string[], name?: string): DevClient {
    if (this.clients.size >= STORE_LIMITS.maxClients) {
      const oldest = this.clients.keys().next();
      if (oldest.done !== true) this.clients.delete(oldest.value);
    }
    const client: DevClient = {
      clientId: `dev-${randomBytes(12).toString('base64url')}`,
      redirectUris: [...redirectUris],
      ...(name === undefined ? {} : { name }),
      issuedAt: Math.floor(this.now() / 1000),
    };
    this.clients.set(client.clientId, client);
    return client;
  }

  client(clientId: string): DevClient | undefined {
    return this.clients.get(clientId);
  }

  issueCode(grant: CodeGrant): string {
    const code = randomToken();
    this.codes.set(code, grant, STORE_LIMITS.codeTtlMs);
    return code;
  }

  takeCode(code: string): CodeGrant | undefined {
    return this.codes.take(code);
  }

  issueRefreshToken(grant: Grant): string {
    const token = randomToken();
    this.refresh.set(token, grant, STORE_LIMITS.refreshTtlMs);
    return token;
  }

  takeRefreshToken(token: string): Grant | undefined {
    return this.refresh.take(token);
  }
}
