/** A controllable IdP for the authenticator tests: real keys, real HTTP on 127.0.0.1. */
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { issuerSchema } from '../../src/config/schema.js';
import type { IssuerConfig } from '../../src/config/schema.js';
import { serve } from './http-helpers.js';

export interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function makeKey(kid: string, alg: 'RS256' | 'ES256' = 'ES256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export interface TestIdp {
  /** Issuer URL: `<server>/<path>` (or the origin when path is ''). */
  issuer: string;
  origin: string;
  /** Keys served at /jwks (mutable: rotate by replacing). */
  keys: TestKey[];
  /** Which discovery documents exist. */
  serveOidc: boolean;
  serve8414: boolean;
  /** `issuer` value put in discovery documents (default: the real issuer). */
  documentIssuer?: string;
  /** HTTP status for /jwks (200 = serve keys). */
  jwksStatus: number;
  /** When true, /jwks never answers (until `releaseJwks()`). */
  jwksHang: boolean;
  /** When true, every connection is reset at once, as if nothing listened. */
  down: boolean;
  /** /jwks requests held by `jwksHang`, not answered yet. */
  readonly pendingJwks: number;
  /** Answer every held /jwks request with the current keys (set `jwksHang` false first to stop holding new ones). */
  releaseJwks(): void;
  /** Requests answered per endpoint; `refused`: connections reset while `down`. */
  hits: { discovery: number; jwks: number; refused: number };
  sign(claims: JWTPayload, opts?: { key?: TestKey; typ?: string; alg?: string }): Promise<string>;
  config(extra?: Record<string, unknown>): IssuerConfig;
  close(): Promise<void>;
}

/** Start an IdP whose issuer has the given path (e.g. `/tenant1`, or '' for the bare origin). */
export async function startTestIdp(path = '/tenant1', id = 'main'): Promise<TestIdp> {
  const key = await makeKey('k1');
  const pending = new Set<import('node:http').ServerResponse>();
  // Filled in once the server listens: the handler reads it on every request.
  const idp = { keys: [key], serveOidc: true, serve8414: true, jwksStatus: 200, jwksHang: false, down: false, hits: { discovery: 0, jwks: 0, refused: 0 } } as unknown as TestIdp;
  const jwks = () => JSON.stringify({ keys: idp.keys.map((k) => k.jwk) });
  const server = await serve((req, res) => {
    if (idp.down) {
      idp.hits.refused++;
      req.socket.destroy();
      return;
    }
    const doc = () => JSON.stringify({ issuer: idp.documentIssuer ?? idp.issuer, jwks_uri: `${idp.origin}/keys${path}` });
    if (req.url === `${path}/.well-known/openid-configuration` && idp.serveOidc) {
      idp.hits.discovery++;
      return res.writeHead(200, { 'content-type': 'application/json' }).end(doc());
    }
    if (req.url === `/.well-known/oauth-authorization-server${path}` && idp.serve8414) {
      idp.hits.discovery++;
      return res.writeHead(200, { 'content-type': 'application/json' }).end(doc());
    }
    if (req.url === `/keys${path}`) {
      idp.hits.jwks++;
      if (idp.jwksHang) {
        pending.add(res);
        return;
      }
      if (idp.jwksStatus !== 200) return res.writeHead(idp.jwksStatus).end('down');
      return res.writeHead(200, { 'content-type': 'application/json' }).end(jwks());
    }
    res.writeHead(404).end();
  });
  idp.origin = server.url;
  idp.issuer = `${server.url}${path}`;
  idp.sign = (claims, opts = {}) => {
    const k = opts.key ?? idp.keys[0]!;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: opts.alg ?? (k.jwk.alg as string), kid: k.kid, ...(opts.typ === undefined ? {} : { typ: opts.typ }) })
      .sign(k.privateKey);
  };
  idp.config = (extra = {}) => issuerSchema.parse({ id, issuer: idp.issuer, audience: 'https://api.test', ...extra });
  Object.defineProperty(idp, 'pendingJwks', { get: () => pending.size });
  idp.releaseJwks = () => {
    for (const r of pending) r.writeHead(200, { 'content-type': 'application/json' }).end(jwks());
    pending.clear();
  };
  idp.close = async () => {
    for (const r of pending) r.destroy();
    await server.close();
  };
  return idp;
}

/** Standard claims for `alice`, valid for an hour from `nowMs`. */
export function aliceClaims(idp: TestIdp, nowMs: number, extra: JWTPayload = {}): JWTPayload {
  const now = Math.floor(nowMs / 1000);
  return { iss: idp.issuer, sub: 'alice', aud: 'https://api.test', exp: now + 3600, iat: now, scope: 'a b', ...extra };
}

/** The request shape the authenticator reads, for a bearer token. */
export function bearer(token: string, url = '/api/x') {
  return { headers: { authorization: `Bearer ${token}` }, rawHeaders: ['Authorization', `Bearer ${token}`], url };
}
