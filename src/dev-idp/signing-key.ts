import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { BehalfError } from '../errors.js';

/** The dev IdP's RS256 key pair and its public JWK (with `kid`, `alg`, `use`). */
export interface DevSigningKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly kid: string;
}

/**
 * Load the dev IdP's RSA key from `keyFile`, or generate one (2048 bits) and, when `keyFile` is
 * given, save it there with mode 0600 so tokens survive a restart. Without `keyFile` the key is
 * ephemeral. `kid` is the RFC 7638 thumbprint.
 *
 * DEV ONLY: the private key sits in a plain file. This does NOT protect it in any way beyond the
 * file mode and does NOT rotate it (`createDevKey` makes the next key when the dev IdP rotates).
 *
 * @throws BehalfError `signing-key-invalid` when the file exists but holds no RSA private JWK.
 */
export async function loadOrCreateDevKey(keyFile?: string): Promise<DevSigningKey> {
  if (keyFile !== undefined) {
    let text: string | undefined;
    try {
      text = await readFile(keyFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new BehalfError('signing-key-invalid', `dev IdP key file ${keyFile} cannot be read`, { cause: err });
      }
    }
    if (text !== undefined) return fromPrivateJwk(parseJwk(text, keyFile));
  }
  return createDevKey(keyFile);
}

/**
 * Generate a new RSA key (2048 bits) for the dev IdP and, when `keyFile` is given, save it there
 * (mode 0600, replacing what was there) so that a restart signs with it.
 */
export async function createDevKey(keyFile?: string): Promise<DevSigningKey> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  if (keyFile !== undefined) {
    await mkdir(dirname(keyFile), { recursive: true });
    const tmp = `${keyFile}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
    await rename(tmp, keyFile);
  }
  return fromPrivateJwk(jwk);
}

function parseJwk(text: string, keyFile: string): JWK {
  try {
    const jwk = JSON.parse(text) as JWK;
    if (jwk.kty === 'RSA' && typeof jwk.d === 'string' && typeof jwk.n === 'string') return jwk;
  } catch {
    // fall through to the error below; the file content is a secret and is not echoed
  }
  throw new BehalfError('signing-key-invalid', `dev IdP key file ${keyFile} does not hold an RSA private JWK`);
}

async function fromPrivateJwk(jwk: JWK): Promise<DevSigningKey> {
  const privateKey = (await importJWK({ ...jwk, alg: 'RS256' }, 'RS256')) as CryptoKey;
  const publicPart: JWK = { kty: 'RSA', n: jwk.n!, e: jwk.e! };
  const kid = await calculateJwkThumbprint(publicPart);
  return { privateKey, kid, publicJwk: { ...publicPart, kid, alg: 'RS256', use: 'sig' } };
}
