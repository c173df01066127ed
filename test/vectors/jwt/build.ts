/**
 * JWT attack vectors: one JSON file per attack in this folder, named after it. Format:
 *
 * {
 *   "name": "alg-none-lowercase",            // = file name without .json
 *   "description": "what the attack is",
 *   "token": {                               // how to build the token (omit for requests without one)
 *     "issuer": "primary",                   // primary | secondary: sets the default `iss`
 *     "key": "rs256",                        // signing key (env.ts VectorKeyName); default header alg/kid come from it
 *     "header": { "alg": "none" },           // merged over { alg, typ: "at+jwt", kid }; null deletes a member
 *     "claims": { "exp": "$now-3600" },      // merged over the default claims (alice); null deletes
 *     "signature": "valid",                  // valid | empty | zero-raw | zero-der |
 *                                            // hmac-public-pem | hmac-public-jwk | hmac-empty-key
 *     "append": ".Zm9v",                     // appended to the compact token
 *     "oversize": true                       // pad a claim so the token exceeds env.maxTokenBytes
 *   },
 *   "request": {
 *     "placement": "header",                 // header | query | header-and-query | two-headers | none
 *     "authorization": "Basic {token}"       // exact Authorization value ({token} replaced); default "Bearer {token}"
 *   },
 *   "expect": {
 *     "accept": false,                       // true: the request passes authentication
 *     "status": 401, "reason": "token-invalid",
 *     "challengeError": "invalid_token",     // error in WWW-Authenticate; null = none
 *     "identity": { "id": "alice" }          // accept only: fields the mapped identity must have
 *   }
 * }
 *
 * Values in `header` and `claims`: "$now", "$now+N", "$now-N" become epoch seconds relative to
 * env.now; "$jwk:<key>" becomes that key's public JWK; in any other string, "{attacker}",
 * "{audience}", "{issuer.primary}" and "{issuer.secondary}" are replaced by the env's URLs.
 *
 * An end-to-end test sends `buildVectorRequest(v, env)` as a real HTTP request (node:http with
 * `headers`, which keeps two Authorization lines as two lines) to a gateway route configured
 * from env.ts, and checks the status, the challenge, and that the backend received nothing for
 * every `accept: false` vector.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hmac, signWithKey, type JwtVectorEnv, type VectorKeyName } from './env.js';

export { startJwtVectorEnv, type JwtVectorEnv } from './env.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One attack (or positive) vector, as stored in `<name>.json`. */
export interface JwtVector {
  name: string;
  description: string;
  token?: {
    issuer?: 'primary' | 'secondary';
    key?: VectorKeyName;
    header?: Record<string, Json>;
    claims?: Record<string, Json>;
    signature?: 'valid' | 'empty' | 'zero-raw' | 'zero-der' | 'hmac-public-pem' | 'hmac-public-jwk' | 'hmac-empty-key';
    append?: string;
    oversize?: boolean;
  };
  request?: { placement?: 'header' | 'query' | 'header-and-query' | 'two-headers' | 'none'; authorization?: string };
  expect:
    | { accept: true; identity?: Record<string, Json> }
    | { accept: false; status: number; reason: string; challengeError: 'invalid_token' | 'invalid_request' | null };
}

/** A vector turned into an HTTP request. */
export interface VectorRequest {
  method: 'GET';
  /** Path and query (`env.path`, plus `?access_token=` for query placements). */
  url: string;
  /** For node:http `request()`: an array value is sent as several header lines. */
  headers: Record<string, string | string[]>;
  /** Node's `rawHeaders` shape, for calling the authenticator directly. */
  rawHeaders: string[];
  /** The token built (empty string when the vector has none). Never log it outside tests. */
  token: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Read every vector in this folder, sorted by name. */
export async function loadJwtVectors(): Promise<JwtVector[]> {
  const files = (await readdir(here)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (f) => {
      const v = JSON.parse(await readFile(join(here, f), 'utf8')) as JwtVector;
      if (v.name !== f.slice(0, -5)) throw new Error(`${f}: name must equal the file name`);
      if (typeof v.expect?.accept !== 'boolean') throw new Error(`${f}: expect.accept is required`);
      return v;
    }),
  );
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function resolveValue(value: Json, env: JwtVectorEnv): Json | undefined {
  if (value === null) return undefined;
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, env) ?? null);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveValue(v, env) ?? null]));
  if (typeof value !== 'string') return value;
  const rel = /^\$now([+-]\d+)?$/.exec(value);
  if (rel) return Math.floor(env.now / 1000) + Number(rel[1] ?? 0);
  if (value.startsWith('$jwk:')) return env.keys[value.slice(5) as VectorKeyName].publicJwk as Json;
  const issuer = (id: string) => env.issuerConfigs.find((i) => i.id === id)!.issuer;
  return value
    .replaceAll('{attacker}', env.attackerUrl)
    .replaceAll('{audience}', env.audience)
    .replaceAll('{issuer.primary}', issuer('primary'))
    .replaceAll('{issuer.secondary}', issuer('secondary'));
}

function merge(defaults: Record<string, Json>, overrides: Record<string, Json> | undefined, env: JwtVectorEnv): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries({ ...defaults, ...overrides })) {
    const resolved = resolveValue(v, env);
    if (resolved !== undefined) out[k] = resolved;
  }
  return out;
}

/** Build the vector's compact token with real keys. */
export function buildVectorToken(vector: JwtVector, env: JwtVectorEnv): string {
  const t = vector.token;
  if (t === undefined) return '';
  const key = env.keys[t.key ?? 'rs256'];
  const header = merge({ alg: key.alg, typ: 'at+jwt', kid: key.kid }, t.header, env);
  const claims = merge(
    {
      iss: `{issuer.${t.issuer ?? 'primary'}}`,
      sub: 'alice',
      aud: '{audience}',
      exp: '$now+3600',
      iat: '$now-60',
      nbf: '$now-60',
      jti: `vector-${vector.name}`,
      client_id: 'vector-client',
      scope: 'reviews:read reviews:write',
      email: 'alice@example.com',
      name: 'Alice',
      roles: ['manager'],
      groups: ['platform'],
    },
    t.claims,
    env,
  );
  if (t.oversize === true) claims.pad = 'x'.repeat(env.maxTokenBytes);
  const input = `${b64(header)}.${b64(claims)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  switch (t.signature ?? 'valid') {
    case 'valid':
      signature = signWithKey(key, data);
      break;
    case 'empty':
      signature = Buffer.alloc(0);
      break;
    case 'zero-raw':
      signature = Buffer.alloc(64);
      break;
    case 'zero-der':
      signature = Buffer.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]);
      break;
    case 'hmac-public-pem':
      signature = hmac(header.alg, key.publicKey.export({ type: 'spki', format: 'pem' }) as string, data);
      break;
    case 'hmac-public-jwk':
      signature = hmac(header.alg, JSON.stringify(key.publicJwk), data);
      break;
    case 'hmac-empty-key':
      signature = hmac(header.alg, Buffer.alloc(0), data);
      break;
  }
  return `${input}.${signature.toString('base64url')}${t.append ?? ''}`;
}

/** Build the HTTP request that carries the vector's token. */
export async function buildVectorRequest(vector: JwtVector, env: JwtVectorEnv): Promise<VectorRequest> {
  const token = buildVectorToken(vector, env);
  const placement = vector.request?.placement ?? 'header';
  const authorization = (vector.request?.authorization ?? 'Bearer {token}').replaceAll('{token}', token);
  const inHeader = placement === 'header' || placement === 'header-and-query' || placement === 'two-headers';
  const inQuery = placement === 'query' || placement === 'header-and-query';
  const url = inQuery ? `${env.path}?access_token=${encodeURIComponent(token)}` : env.path;
  const headers: Record<string, string | string[]> = {};
  const rawHeaders: string[] = [];
  if (inHeader) {
    const values = placement === 'two-headers' ? [authorization, authorization] : [authorization];
    headers.authorization = values.length === 1 ? values[0]! : values;
    for (const v of values) rawHeaders.push('Authorization', v);
  }
  return { method: 'GET', url, headers, rawHeaders, token };
}
