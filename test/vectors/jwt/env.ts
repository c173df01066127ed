/**
 * The world the JWT vectors run in: real keys, a real IdP on 127.0.0.1 (OIDC discovery and JWKS
 * for the "primary" issuer, an explicit JWKS URL for the "secondary" one), and an "attacker"
 * server that serves the attacker's keys and counts every request it gets (a `jku`/`x5u` header
 * must never make the gateway call it).
 *
 * An end-to-end test uses it like this:
 *   const env = await startJwtVectorEnv();
 *   // gateway config: issuers = env.issuerConfigs, server.maxTokenBytes = env.maxTokenBytes,
 *   // one route bound to env.allowedIssuers (["primary"]); send each vector to it (see build.ts)
 *   await env.close();
 */
import { constants, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Key names a vector can use in `token.key`. */
export type VectorKeyName = 'rs256' | 'ps256' | 'es256' | 'eddsa' | 'rs1024' | 'secondary-rs256' | 'attacker-rs256' | 'attacker-es256';

/** One signing key: private part for building tokens, public JWK as served. */
export interface VectorKey {
  readonly name: VectorKeyName;
  readonly alg: 'RS256' | 'PS256' | 'ES256' | 'EdDSA';
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: Record<string, unknown>;
}

/** An issuer as a gateway config lists it (input form: defaults are applied by the schema). */
export interface VectorIssuerConfig {
  id: 'primary' | 'secondary';
  issuer: string;
  audience: string;
  requireType?: 'at+jwt';
  jwksUri?: string;
  clockSkewSeconds: number;
}

/** Everything needed to build vectors and to configure the gateway that receives them. */
export interface JwtVectorEnv {
  /** The clock the tokens are built against, ms since epoch. Verify with the same clock (or the real one: offsets are hours). */
  readonly now: number;
  /** Configure `server.maxTokenBytes` with this; the oversize vector exceeds it but stays under Node's 16 KiB header limit. */
  readonly maxTokenBytes: number;
  readonly audience: string;
  readonly issuerConfigs: readonly VectorIssuerConfig[];
  /** Issuer ids the route under test accepts. */
  readonly allowedIssuers: readonly string[];
  /** Path the vector requests use. */
  readonly path: string;
  readonly keys: Readonly<Record<VectorKeyName, VectorKey>>;
  readonly attackerUrl: string;
  /** Requests the attacker server has received so far. */
  attackerHits(): number;
  /** Requests the IdP server has received so far (discovery + JWKS). */
  idpHits(): number;
  close(): Promise<void>;
}

function makeKey(name: VectorKeyName, alg: VectorKey['alg'], kid: string, modulusLength = 2048): VectorKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength });
  const jwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { name, alg, kid, privateKey: pair.privateKey, publicKey: pair.publicKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

/** Sign `input` with the key's own algorithm (whatever the header claims). */
export function signWithKey(key: VectorKey, input: Buffer): Buffer {
  switch (key.alg) {
    case 'RS256':
      return sign('sha256', input, key.privateKey);
    case 'PS256':
      return sign('sha256', input, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    case 'ES256':
      return sign('sha256', input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
      return sign(null, input, key.privateKey);
  }
}

/** HMAC with the hash the header's `HSxxx` names (default SHA-256). */
export function hmac(alg: unknown, secret: string | Buffer, input: Buffer): Buffer {
  const bits = typeof alg === 'string' && /^HS(384|512)$/i.test(alg) ? alg.slice(2) : '256';
  return createHmac(`sha${bits}`, secret).update(input).digest();
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Start the IdP and attacker servers and generate every key. Call `close()` when done. */
export async function startJwtVectorEnv(opts: { now?: number } = {}): Promise<JwtVectorEnv> {
  const keys: Record<VectorKeyName, VectorKey> = {
    rs256: makeKey('rs256', 'RS256', 'rs-1'),
    ps256: makeKey('ps256', 'PS256', 'ps-1'),
    es256: makeKey('es256', 'ES256', 'ec-1'),
    eddsa: makeKey('eddsa', 'EdDSA', 'ed-1'),
    rs1024: makeKey('rs1024', 'RS256', 'rs-weak', 1024),
    'secondary-rs256': makeKey('secondary-rs256', 'RS256', 'sec-rs-1'),
    'attacker-rs256': makeKey('attacker-rs256', 'RS256', 'attacker-1'),
    'attacker-es256': makeKey('attacker-es256', 'ES256', 'attacker-2'),
  };
  const primaryKeys = [keys.rs256, keys.ps256, keys.es256, keys.eddsa, keys.rs1024].map((k) => k.publicJwk);
  let idpHits = 0;
  let attackerHits = 0;
  let base = '';
  const idp = createServer((req, res) => {
    idpHits++;
    if (req.url === '/primary/.well-known/openid-configuration') {
      return json(res, 200, { issuer: `${base}/primary`, jwks_uri: `${base}/primary/jwks`, dev_only: true });
    }
    if (req.url === '/primary/jwks') return json(res, 200, { keys: primaryKeys });
    if (req.url === '/secondary/jwks') return json(res, 200, { keys: [keys['secondary-rs256'].publicJwk] });
    json(res, 404, { error: 'not_found' });
  });
  const attacker = createServer((req, res) => {
    attackerHits++;
    json(res, 200, { keys: [keys['attacker-rs256'].publicJwk, keys['attacker-es256'].publicJwk] });
  });
  base = await listen(idp);
  const attackerUrl = await listen(attacker);
  const audience = 'https://api.vectors.test';
  return {
    now: opts.now ?? Date.now(),
    maxTokenBytes: 8_192,
    audience,
    issuerConfigs: [
      { id: 'primary', issuer: `${base}/primary`, audience, requireType: 'at+jwt', clockSkewSeconds: 30 },
      { id: 'secondary', issuer: `${base}/secondary`, audience, jwksUri: `${base}/secondary/jwks`, clockSkewSeconds: 30 },
    ],
    allowedIssuers: ['primary'],
    path: '/vectors/resource',
    keys,
    attackerUrl,
    attackerHits: () => attackerHits,
    idpHits: () => idpHits,
    close: async () => {
      for (const s of [idp, attacker]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
