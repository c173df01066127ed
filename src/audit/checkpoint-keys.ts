import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import { BehalfError } from '../errors.js';
import { importCheckpointKeys, type CheckpointKeys } from './checkpoint-format.js';

/** How long `behalf audit verify --jwks <url>` waits for the JWKS, ms. */
const JWKS_FETCH_TIMEOUT_MS = 10_000;

/**
 * The public keys to check checkpoints with, from the gateway's signing key file (its private
 * keys: only the public parts are used) or a JWK set (a saved `/.well-known/jwks.json`, or its
 * URL). Several sources are merged (an auditor may keep the JWKS of each key period).
 *
 * This does NOT check that a source really is this gateway's: whoever chooses the keys decides
 * what verifies. A key file's `kid` is taken as written (the gateway checks it on load).
 *
 * @throws BehalfError `audit-read-failed` when a source cannot be read or is not a JWK set; the
 *         message names the file or the URL's origin, never a key.
 */
export async function loadCheckpointKeys(sources: readonly string[], opts: { fetch?: typeof fetch } = {}): Promise<CheckpointKeys> {
  const all: JWK[] = [];
  for (const source of sources) all.push(...(await readJwkSet(source, opts.fetch ?? fetch)));
  try {
    return await importCheckpointKeys({ keys: all });
  } catch (err) {
    throw new BehalfError('audit-read-failed', `a key in ${sources.join(', ')} cannot be imported`, { cause: err });
  }
}

async function readJwkSet(source: string, doFetch: typeof fetch): Promise<JWK[]> {
  let text: string;
  let name = source;
  if (/^https?:\/\//i.test(source)) {
    name = new URL(source).origin;
    try {
      const res = await doFetch(source, { signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS), redirect: 'error' });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      text = await res.text();
    } catch (err) {
      throw new BehalfError('audit-read-failed', `cannot fetch the JWKS from ${name}: ${(err as Error).message}`, { cause: err });
    }
  } else {
    try {
      text = await readFile(source, 'utf8');
    } catch (err) {
      throw new BehalfError('audit-read-failed', `cannot read the key set ${source}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BehalfError('audit-read-failed', `${name} is not JSON`);
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new BehalfError('audit-read-failed', `${name} is not a JWK set ({"keys":[...]})`);
  return keys.filter((k): k is JWK => k !== null && typeof k === 'object' && !Array.isArray(k));
}
