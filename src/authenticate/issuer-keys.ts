import { createHash } from 'node:crypto';
import { createLocalJWKSet, type FlattenedJWSInput, type JWSHeaderParameters, type CryptoKey } from 'jose';
import { BehalfError, isBehalfError } from '../errors.js';
import { discoverJwksUri } from './discovery.js';
import { fetchJson } from './fetch-json.js';
import { RefetchLimit, type FetchCause } from './refetch-limit.js';

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
  /** Least time between the starts of two fetches (`issuers[].jwksRefetch.minIntervalMs`). */
  minIntervalMs: number;
  /** Flood bound on fetches caused by tokens (`issuers[].jwksRefetch.perMinute`). */
  perMinute: number;
  /** Keys older than this are refetched in the background; they stay in use meanwhile. */
  maxAgeMs: number;
  /** How many `kid`s a fetch showed absent are remembered (for the answer once refetches are spent). */
  absentKids: number;
  /** Wait this many ms (tests pass one that moves their clock). Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Called each time a token's refetch is refused by the flood bound (the gateway counts it). */
  onLimited?: () => void;
}

/** A point in this key source's history, taken before a token is checked (see `recheck`). */
export interface KeysMark {
  readonly fetches: number;
  readonly generation: number;
}

/** What `/readyz` shows of one issuer's keys, read from memory. */
export interface KeysStatus {
  ok: boolean;
  detail?: string;
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;
type NextFetch = 'newer' | 'older' | 'limited';

/**
 * The verification keys of one issuer: discovery (once, lazily), then the JWK set, cached.
 *
 * When fetches happen: at most one is in flight; two start at least `minIntervalMs` apart; and
 * those caused by tokens spend the flood bound of RefetchLimit (`perMinute`). A token whose `kid`
 * is not in the set waits for the first fetch that starts after the token arrived (one that
 * started earlier may predate the IdP publishing the key), joining it if it is in flight and
 * waiting up to `minIntervalMs` for it to be allowed to start; every token that misses meanwhile
 * shares that one fetch. So a key rotation costs one fetch and no refusals. A key set older than
 * `maxAgeMs` keeps being used while a background fetch refreshes it; with no keys at all, a
 * request starts a fetch once `minIntervalMs` has passed since the last attempt and otherwise
 * gets the last failure at once (503), so the gateway recovers within about `minIntervalMs` of
 * the IdP coming back.
 *
 * Keys are selected by `kid` and `alg` only, from this issuer's set: the token's `jwk`, `jku`,
 * `x5u` and `x5c` headers are never read, so they cannot introduce a key or cause a fetch. A
 * `kid` is a lookup key compared for equality, never a path or query.
 *
 * This does NOT check the token (signature, algorithm allow-list, claims): `jwtVerify` does, with
 * the key returned here (and `recheck` is how it asks for a refetch when a signature fails under a
 * known `kid`). It does NOT pin keys across refreshes: a key the IdP removes or replaces stops
 * being accepted once a fetch sees it gone. It does NOT accept any key the IdP has not published:
 * when a fetch is refused by the flood bound or fails, the token is refused (503 if it might be
 * good, 401 if a fetch already showed its `kid` absent). If the IdP is unreachable, keys already
 * fetched stay in use.
 */
export class IssuerKeys {
  private readonly opts: IssuerKeysOptions;
  private readonly limit: RefetchLimit;
  private readonly sleep: (ms: number) => Promise<void>;
  private keys: LocalSet | undefined;
  private keysJson = '';
  private keyCount = 0;
  private generation = 0;
  private fetchedAt = -Infinity;
  private lastError: BehalfError | undefined;
  private lastErrorAt = -Infinity;
  private discoveredUri: string | undefined;
  private fetches = 0;
  private inflight: { seq: number; promise: Promise<void> } | undefined;
  private scheduled: Promise<void> | undefined;
  private readonly absent = new Set<string>();

  constructor(opts: IssuerKeysOptions) {
    this.opts = opts;
    this.limit = new RefetchLimit({ minIntervalMs: opts.minIntervalMs, perMinute: opts.perMinute, now: opts.now });
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Key resolver for `jwtVerify`. Throws BehalfError (`jwks-fetch-failed`/`discovery-failed`)
   * when the key cannot be known now: no keys and the IdP unreachable, or an unknown `kid` whose
   * refetch failed or is refused by the flood bound. Throws jose's JWKSNoMatchingKey when a fetch
   * that started after the token arrived lacks the `kid`; other jose errors pass through.
   */
  readonly resolve = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const seen = this.fetches;
    await this.ensureLoaded();
    for (;;) {
      try {
        return await this.keys!(header, token);
      } catch (err) {
        if (!isNoMatchingKey(err)) throw err;
        const next = await this.nextFetch(seen);
        if (next === 'older') continue;
        if (next === 'limited') {
          if (this.absent.has(kidOf(header))) throw err;
          throw new BehalfError('jwks-fetch-failed', `JWKS refetch limit reached for ${this.opts.issuer} (issuers[].jwksRefetch.perMinute): kid not checked`);
        }
        try {
          return await this.keys!(header, token);
        } catch (again) {
          if (isNoMatchingKey(again)) this.rememberAbsent(kidOf(header));
          throw again;
        }
      }
    }
  };

  /** Where this key source stands now; pass it to `recheck` after a failed signature. */
  mark(): KeysMark {
    return { fetches: this.fetches, generation: this.generation };
  }

  /**
   * A signature failed under a key from this set: wait for a fetch that started after `since` (as
   * for an unknown `kid`) and say whether the set changed, in which case the caller verifies once
   * more. `limited` when the flood bound refuses the fetch.
   *
   * @throws BehalfError when that fetch fails.
   */
  async recheck(since: KeysMark): Promise<'changed' | 'unchanged' | 'limited'> {
    for (;;) {
      if (this.generation !== since.generation) return 'changed';
      const next = await this.nextFetch(since.fetches);
      if (next === 'limited') return 'limited';
      if (next === 'newer') return this.generation !== since.generation ? 'changed' : 'unchanged';
    }
  }

  /** Make sure keys are loaded and fresh, fetching (and waiting) if not. Bypasses `minIntervalMs`. */
  async warm(): Promise<void> {
    if (this.keys !== undefined && this.opts.now() - this.fetchedAt <= this.opts.maxAgeMs) return;
    if (this.inflight !== undefined) return this.inflight.promise;
    return this.start('load');
  }

  /**
   * The state of this issuer's keys, from memory: ok while keys are held. When none are, or they
   * are older than `maxAgeMs`, a background fetch starts if `minIntervalMs` allows, so that probes
   * alone bring a gateway with no traffic back once the IdP answers.
   */
  status(): KeysStatus {
    const now = this.opts.now();
    if (this.keys === undefined || now - this.fetchedAt > this.opts.maxAgeMs) this.refreshInBackground(this.keys === undefined ? 'load' : 'age');
    const failure = this.lastError === undefined ? '' : `last fetch failed ${seconds(now - this.lastErrorAt)} ago: ${this.lastError.message}`;
    if (this.keys === undefined) {
      if (this.inflight !== undefined) return { ok: false, detail: `fetching keys${failure === '' ? '' : `; ${failure}`}` };
      return { ok: false, detail: failure === '' ? 'keys not fetched yet' : failure };
    }
    if (failure === '') return { ok: true };
    return { ok: true, detail: `using ${this.keyCount} key(s) fetched ${seconds(now - this.fetchedAt)} ago; ${failure}` };
  }

  private async ensureLoaded(): Promise<void> {
    if (this.keys === undefined) {
      if (this.inflight !== undefined) return this.inflight.promise;
      if (this.limit.waitMs('load') > 0) throw this.lastError ?? new BehalfError('jwks-fetch-failed', `no keys for ${this.opts.issuer} yet`);
      return this.start('load');
    }
    if (this.opts.now() - this.fetchedAt > this.opts.maxAgeMs) this.refreshInBackground('age');
  }

  private refreshInBackground(cause: FetchCause): void {
    if (this.inflight !== undefined || this.scheduled !== undefined || this.limit.waitMs(cause) > 0) return;
    this.start(cause).catch(() => undefined);
  }

  /**
   * Wait for the next fetch and say whether it started after `seen` fetches (`newer`: its result
   * answers a token that arrived then) or before (`older`: look again, then call again). Starts
   * the fetch if none is in flight, after waiting up to `minIntervalMs` for RefetchLimit to allow
   * it; `limited` when it would have to wait longer.
   *
   * @throws BehalfError when a newer fetch fails.
   */
  private async nextFetch(seen: number): Promise<NextFetch> {
    const inflight = this.inflight;
    if (inflight !== undefined) {
      if (inflight.seq > seen) {
        await inflight.promise;
        return 'newer';
      }
      await inflight.promise.catch(() => undefined);
      return 'older';
    }
    if (this.fetches > seen) {
      if (this.lastError !== undefined) throw this.lastError;
      return 'newer';
    }
    if (this.scheduled !== undefined) {
      await this.scheduled;
      return 'older';
    }
    const wait = this.limit.waitMs('token');
    if (wait === 0) {
      await this.start('token');
      return 'newer';
    }
    if (wait > this.opts.minIntervalMs) {
      this.opts.onLimited?.();
      return 'limited';
    }
    // Start when allowed, whoever is still waiting: each waiter then finds it in flight.
    this.scheduled = this.sleep(wait).then(() => {
      this.scheduled = undefined;
      if (this.inflight === undefined) this.start('token').catch(() => undefined);
    });
    await this.scheduled;
    return 'older';
  }

  private start(cause: FetchCause): Promise<void> {
    this.limit.started(cause);
    const seq = ++this.fetches;
    const promise = this.load().finally(() => {
      if (this.inflight?.seq === seq) this.inflight = undefined;
    });
    this.inflight = { seq, promise };
    return promise;
  }

  private async load(): Promise<void> {
    const http = { fetch: this.opts.fetch, timeoutMs: this.opts.timeoutMs, maxBytes: this.opts.maxBytes };
    try {
      const uri =
        this.opts.jwksUri ?? (this.discoveredUri ??= await discoverJwksUri(this.opts.issuer, this.opts.discoveryUrl, http));
      let keys: LocalSet;
      let json: string;
      let count: number;
      try {
        const doc = await fetchJson(uri, { ...http, code: 'jwks-fetch-failed' });
        keys = createLocalJWKSet(doc as unknown as Parameters<typeof createLocalJWKSet>[0]);
        json = JSON.stringify(doc.keys);
        count = (doc.keys as unknown[]).length;
      } catch (err) {
        // The jwks_uri may have moved: discover again next time.
        this.discoveredUri = undefined;
        if (isBehalfError(err)) throw err;
        throw new BehalfError('jwks-fetch-failed', `GET ${uri}: not a valid JWK set`, { cause: err });
      }
      if (json !== this.keysJson) {
        this.generation++;
        this.absent.clear();
      }
      this.keys = keys;
      this.keysJson = json;
      this.keyCount = count;
      this.fetchedAt = this.opts.now();
      this.lastError = undefined;
    } catch (err) {
      this.lastError = isBehalfError(err) ? err : new BehalfError('jwks-fetch-failed', 'JWKS fetch failed', { cause: err });
      this.lastErrorAt = this.opts.now();
      throw this.lastError;
    }
  }

  private rememberAbsent(kid: string): void {
    this.absent.delete(kid);
    this.absent.add(kid);
    if (this.absent.size > this.opts.absentKids) this.absent.delete(this.absent.values().next().value as string);
  }
}

/**
 * What a `kid` miss is remembered by: a digest, so that a thousand remembered kids of up to the
 * token size cost 32 bytes each, not kilobytes (a token without `kid` is remembered as such).
 */
function kidOf(header: JWSHeaderParameters): string {
  return typeof header.kid === 'string' ? createHash('sha256').update(header.kid).digest('base64url') : 'none';
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))} s`;
}

function isNoMatchingKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_JWKS_NO_MATCHING_KEY';
}
