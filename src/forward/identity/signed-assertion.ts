import { KeyObject, randomUUID, sign as nodeSign } from 'node:crypto';
import type { Identity } from '../../authenticate/identity.js';
import type { RouteConfig } from '../../config/schema.js';
import { ASSERTION_TYPE, MAX_ASSERTION_LIFETIME_SECONDS, targetBinding, type AssertionAlgorithm, type AssertionClaims } from './assertion-claims.js';
import { bodyDigest } from '../../lib/digest.js';
import type { SigningKeys } from './signing-keys.js';
import { createBatchSigner, type BatchOptions, type BatchStats } from './batch-signer.js';

/** How a route's assertions are signed: see {@link AssertionInput.form}. */
export type AssertionForm = 'jwt' | 'batched';

/** Batch bounds when none are configured (same as `DEFAULTS.assertionBatch*`). */
const DEFAULT_BATCH: BatchOptions = { maxWaitMicroseconds: 500, maxLeaves: 256 };

/** What one assertion is about: who, for which backend, and which exact request. */
export interface AssertionInput {
  /** The verified caller (from the authenticate stage, never from client headers). */
  readonly identity: Identity;
  /** The backend audience: see {@link routeAudience}. */
  readonly audience: string;
  /** HTTP method of the upstream request (upper-cased here). */
  readonly method: string;
  /** Upstream request target, path plus query, exactly as it will be sent (see `joinUpstreamPath`). */
  readonly path: string;
  /** The exact body bytes to be forwarded; `undefined` for none. Ignored when `bodyDigest` is given. */
  readonly body?: Uint8Array | undefined;
  /** Precomputed {@link bodyDigest} of the body (the caller usually has it for the audit record). */
  readonly bodyDigest?: string;
  /** MCP tool name, for tool calls. */
  readonly tool?: string;
  /** For tool calls: the digest of the arguments (`ToolCallContext.argumentsDigest`), sent as the `args` claim. */
  readonly argumentsDigest?: string;
  /** Lifetime in seconds, 1-60 (`route.assertion.ttlSeconds`); default and ceiling 60. */
  readonly ttlSeconds?: number;
  /**
   * `jwt`: an ordinary assertion, one signature each. `batched`: one signature per batch of the
   * assertions made in one event-loop turn (docs/batched-assertions.md). Default `jwt`.
   */
  readonly form?: AssertionForm;
}

/** Signs assertions with the current gateway key. */
export interface AssertionSigner {
  /**
   * Returns the value to put in the route's assertion header: a compact JWT, or for
   * `input.form: 'batched'` the batched form (a compact JWT when the batch held only this one).
   */
  sign(input: AssertionInput): Promise<string>;
  /** An ordinary assertion (whatever `input.form`), synchronously: the signature is computed on the calling thread, ~35 µs for ES256. */
  signSync(input: AssertionInput): string;
  /** How many batches were signed and how many assertions they held. */
  batchStats(): BatchStats;
}

/**
 * The audience for a route's assertions: `route.audience`, default the upstream's origin
 * (`https://hr.internal:8443`). A backend configures the same string in its verifier.
 */
export function routeAudience(route: Pick<RouteConfig, 'audience' | 'upstream'>): string {
  return route.audience ?? new URL(route.upstream).origin;
}

/**
 * Builds the assertion signer. `opts.issuer` is the gateway's `server.publicUrl` (the `iss`
 * backends expect); `opts.now` is the clock in epoch milliseconds (default `Date.now`).
 *
 * Each assertion carries the user (`sub`, `tenant`, `email`, `name`, `roles`, `groups`, `scope`),
 * the acting client (`act.sub`, `azp`), the user's IdP (`idp_iss`), the request it is bound to
 * (`htm`, `htu`, `bdg`, and `htq` for a target longer than `MAX_INLINE_TARGET_BYTES` with a
 * query: then `htu` is the path alone), the tool and its arguments' digest (`args`), a random
 * `jti`, and `iat`/`exp` (lifetime at most 60 s).
 * See `assertion-claims.ts` for each claim's exact meaning. The work per call is one random UUID,
 * one SHA-256 when no digest is passed, one more SHA-256 for a long target only, and one
 * synchronous signature (ES256 about 35 µs on the reference machine).
 *
 * This does NOT decide whether the request is allowed, nor check that `path` and `body` are what
 * will really be sent: the forward stage must sign exactly the bytes and target it forwards.
 * It does NOT add `nbf`: a backend should accept an assertion from `iat` (minus its clock
 * tolerance) on.
 */
export function createAssertionSigner(keys: SigningKeys, opts: { issuer: string; now?: () => number; batch?: BatchOptions }): AssertionSigner {
  const now = opts.now ?? Date.now;
  const { issuer } = opts;
  const alg = keys.alg;
  const batcher = createBatchSigner(keys, signCompact, { ...(opts.batch ?? DEFAULT_BATCH), issuer, now });
  return {
    sign(input) {
      if (input.form === 'batched') return batcher.add((iat) => assertionClaims(input, issuer, iat));
      return Promise.resolve(this.signSync(input));
    },
    batchStats: () => batcher.stats(),
    signSync(input) {
      const claims = assertionClaims(input, issuer, Math.floor(now() / 1_000));
      const { kid, key } = keys.current();
      return signCompact(alg, kid, key, ASSERTION_TYPE, claims);
    },
  };
}

/**
 * The claims of one assertion about `input`, issued at `iat` (epoch seconds) by `issuer`: the
 * user and client from `input.identity`, the request binding from the rest of `input`, a fresh
 * random `jti`, and `exp` = `iat` + the lifetime (1-60 s, default 60). Shared by the ordinary
 * and the batched form, so both carry exactly the same claims.
 */
export function assertionClaims(input: AssertionInput, issuer: string, iat: number): AssertionClaims {
  const id = input.identity;
  const ttl = Math.min(Math.max(Math.floor(input.ttlSeconds ?? MAX_ASSERTION_LIFETIME_SECONDS), 1), MAX_ASSERTION_LIFETIME_SECONDS);
  const target = targetBinding(input.path);
  const claims: AssertionClaims = {
    iss: issuer,
    aud: input.audience,
    sub: id.id,
    roles: [...id.roles],
    scope: id.scopes.join(' '),
    idp_iss: id.issuer,
    htm: input.method.toUpperCase(),
    htu: target.htu,
    bdg: input.bodyDigest ?? bodyDigest(input.body),
    jti: randomUUID(),
    iat,
    exp: iat + ttl,
  };
  if (id.tenant !== undefined) claims.tenant = id.tenant;
  if (id.email !== undefined) claims.email = id.email;
  if (id.name !== undefined) claims.name = id.name;
  if (id.groups.length > 0) claims.groups = [...id.groups];
  if (id.client !== undefined) {
    claims.act = { sub: id.client };
    claims.azp = id.client;
  }
  if (target.htq !== undefined) claims.htq = target.htq;
  if (input.tool !== undefined) claims.tool = input.tool;
  if (input.argumentsDigest !== undefined) claims.args = input.argumentsDigest;
  return claims;
}

const headerCache = new Map<string, string>();
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/**
 * Compact JWS with node:crypto's synchronous signer. jose's `SignJWT` goes through WebCrypto,
 * whose every call is a thread-pool job: on the per-request hot path that doubled the signing
 * cost and added a thread hop. Only the signing side is done here; every test verifies the
 * result with jose, and backends verify with jose (`behalf/backend`).
 */
export function signCompact(alg: AssertionAlgorithm, kid: string, key: CryptoKey, typ: string, claims: object): string {
  const cacheKey = `${alg}.${kid}.${typ}`;
  let header = headerCache.get(cacheKey);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg, kid, typ })).toString('base64url');
    headerCache.set(cacheKey, header);
  }
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = KeyObject.from(key);
    keyObjects.set(key, keyObject);
  }
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature =
    alg === 'EdDSA'
      ? nodeSign(null, Buffer.from(input), keyObject)
      : nodeSign('sha256', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
