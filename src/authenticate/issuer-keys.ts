import { createLocalJWKSet, type FlattenedJWSInput, type JWSHeaderParameters, type CryptoKey } from 'jose';
import { BehalfError, isBehalfError } from '../errors.js';
import { discoverJwksUri } from './discovery.js';
import { fetchJson } from './fetch-json.js';

/** Settings of one issuer's key source. Every duration is in milliseconds. */
export interface IssuerKeysOptions {
  issuer: string;
  /** Explicit JWKS URL; when absent, discovery finds it. */
  jwksUri?: string;
  /** Discovery document URL override. */
  discoveryUrl?: string;
  fetch: typeof globalThis.fetch;
  now: () => number;
  /** Bound on each HTTP request. */
  timeoutMs: number;
  /** Bound on each HTTP body, in bytes. */
  maxBytes: number;
  /** Minimum time between two fetches caused by an unknown `kid` (and between retries after a failure). */
  cooldownMs: number;
  /** Keys older than this are refetched before use; if that fails the old keys stay in use. */
  maxAgeMs: number;
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

/**
 * The verification keys of one issuer: discovery (once, lazily), then the JWK set, cached and
 * refreshed when it is older than `maxAgeMs` or when a token names a `kid` the set lacks, at most
 * once per `cooldownMs` so that tokens with random `kid`s cannot turn the gateway into a flood
 * of requests to the IdP. Concurrent callers share one in-flight fetch.
 *
 * Keys are selected by `kid` and `alg` only, from this issuer's set: the token's `jwk`, `jku`,
 * `x5u` and `x5c` headers are never read, so they cannot introduce a key or cause a fetch. A
 * `kid` is a lookup key compared for equality, never a path or query.
 *
 * This does NOT check the token (signature, algorithm allow-list, claims): `jwtVerify` does, with
 * the key returned here. It does NOT pin keys across refreshes: a key the IdP removes stops being
 * accepted at the next refresh. If the IdP is unreachable, keys already fetched stay in use.
 */
export class IssuerKeys {
  private readonly opts: IssuerKeysOptions;
  private keys: LocalSet | undefined;
  private fetchedAt = -Infinity;
  private lastAttemptAt = -Infinity;
  private lastError: BehalfError | undefined;
  private discoveredUri: string | undefined;
  private inflight: Promise<void> | undefined;

  constructor(opts: IssuerKeysOptions) {
    this.opts = opts;
  }

  /** Key resolver for `jwtVerify`. Throws BehalfError (`jwks-fetch-failed`/`discovery-failed`) when the IdP is unreachable and no keys are cached; jose errors otherwise. */
  readonly resolve = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const now = this.opts.now();
    if (this.keys === undefined) {
      if (this.lastError !== undefined && now - this.lastAttemptAt < this.opts.cooldownMs && this.inflight === undefined) {
        throw this.lastError;
      }
      await this.refresh();
    } else if (now - this.fetchedAt > this.opts.maxAgeMs && now - this.lastAttemptAt >= this.opts.cooldownMs) {
      await this.refresh().catch(() => undefined);
    }
    const keys = this.keys as unknown as LocalSet;
    try {
      return await keys(header, token);
    } catch (err) {
      if (!isNoMatchingKey(err)) throw err;
      // Join a refresh already in flight (it may bring this kid); start one only after the cooldown.
      if (this.inflight === undefined && this.opts.now() - this.lastAttemptAt < this.opts.cooldownMs) throw err;
      await this.refresh();
      return (this.keys as unknown as LocalSet)(header, token);
    }
  };

  /** Make sure keys are loaded and fresh, fetching if not. Bypasses the failure cooldown. */
  async warm(): Promise<void> {
    if (this.keys !== undefined && this.opts.now() - this.fetchedAt <= this.opts.maxAgeMs) return;
    await this.refresh();
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.lastAttemptAt = this.opts.now();
    const http = { fetch: this.opts.fetch, timeoutMs: this.opts.timeoutMs, maxBytes: this.opts.maxBytes };
    try {
      const uri =
        this.opts.jwksUri ?? (this.discoveredUri ??= await discoverJwksUri(this.opts.issuer, this.opts.discoveryUrl, http));
      let keys: LocalSet;
      try {
        const doc = await fetchJson(uri, { ...http, code: 'jwks-fetch-failed' });
        keys = createLocalJWKSet(doc as unknown as Parameters<typeof createLocalJWKSet>[0]);
      } catch (err) {
        // The jwks_uri may have moved: discover again next time.
        this.discoveredUri = undefined;
        if (isBehalfError(err)) throw err;
        throw new BehalfError('jwks-fetch-failed', `GET ${uri}: not a valid JWK set`, { cause: err });
      }
      this.keys = keys;
      this.fetchedAt = this.opts.now();
      this.lastError = undefined;
    } catch (err) {
      this.lastError = isBehalfError(err) ? err : new BehalfError('jwks-fetch-failed', 'JWKS fetch failed', { cause: err });
      throw this.lastError;
    }
  }
}

function isNoMatchingKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_JWKS_NO_MATCHING_KEY';
}
