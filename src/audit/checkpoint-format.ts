import { CompactSign, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import type { AuditHead } from './head-file.js';

/**
 * Signed checkpoints of the audit trail: the gateway's signature over the chain head
 * (`seq`, `hash`) at a time. Because each record's hash covers its predecessor's, one checkpoint
 * vouches for every record up to its `seq`. docs/audit.md restates the format so a third party
 * can check it.
 *
 * A checkpoint is a compact JWS signed with the gateway's assertion key (the keys published at
 * `/.well-known/jwks.json`):
 * - header `{ alg: 'ES256' | 'EdDSA', kid: <RFC 7638 thumbprint>, typ: 'behalf-checkpoint+jwt' }`;
 * - payload `{ "seq": <record number>, "hash": "<64 hex>", "time": "<ISO 8601 UTC, ms>" }`.
 * The explicit `typ` (RFC 8725 §3.11) keeps a checkpoint from being taken for an assertion
 * (`behalf-assertion+jwt`) or a batch root (`behalf-batch+jwt`), and the reverse: each verifier
 * accepts only its own `typ`. The payload has no `exp`, `aud` or `sub`, so no JWT consumer
 * mistakes it for a credential.
 */

/** JOSE `typ` of a checkpoint. */
export const CHECKPOINT_TYPE = 'behalf-checkpoint+jwt';

/** What a checkpoint says: the trail's record `seq` had `hash` at `time`. */
export interface CheckpointClaims extends AuditHead {
  /** When it was signed, ISO 8601 UTC with milliseconds. */
  readonly time: string;
}

/** A checkpoint as stored next to the trail: its claims, the key id, and the JWS itself. */
export interface StoredCheckpoint extends CheckpointClaims {
  readonly kid: string;
  /** The compact JWS; the only part verification trusts (the other fields are for reading). */
  readonly jws: string;
}

/** Where checkpoints are shipped besides the store (checkpoint-webhook.ts). */
export interface CheckpointSink {
  /** Queue one checkpoint; never blocks, never throws. */
  push(cp: StoredCheckpoint): void;
  /** Try to deliver what is queued (bounded wait), then stop. */
  close(): Promise<void>;
}

/** A checkpoint whose signature verified. */
export interface VerifiedCheckpoint extends CheckpointClaims {
  readonly kid: string;
}

const ALGORITHMS = ['ES256', 'EdDSA'] as const;
const HEX64 = /^[0-9a-f]{64}$/;

/** Sign a checkpoint of `head` at `time` (epoch ms) with `key` (the current signing key). */
export async function signCheckpoint(head: AuditHead, time: number, signer: { alg: 'ES256' | 'EdDSA'; kid: string; key: CryptoKey }): Promise<StoredCheckpoint> {
  const claims: CheckpointClaims = { seq: head.seq, hash: head.hash, time: new Date(time).toISOString() };
  const jws = await new CompactSign(Buffer.from(JSON.stringify(claims), 'utf8')).setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: CHECKPOINT_TYPE }).sign(signer.key);
  return { ...claims, kid: signer.kid, jws };
}

/** The outcome of {@link verifyCheckpoint}. */
export type CheckpointCheck =
  | { readonly ok: true; readonly checkpoint: VerifiedCheckpoint }
  /** No key with this `kid` in the set: neither good nor bad (a key retired and dropped since). */
  | { readonly ok: false; readonly unknownKey: string }
  /** Not a checkpoint of these keys: forged, altered, or another kind of token. */
  | { readonly ok: false; readonly invalid: string };

/** Public keys by `kid`, imported once. */
export type CheckpointKeys = ReadonlyMap<string, { readonly alg: string; readonly key: CryptoKey | Uint8Array }>;

/**
 * Import the public keys of a JWK set for {@link verifyCheckpoint}. Keys without `kid`, or for
 * another algorithm than ES256 / EdDSA, are left out; a private member (`d`) is ignored.
 */
export async function importCheckpointKeys(jwks: { keys: readonly JWK[] }): Promise<CheckpointKeys> {
  const out = new Map<string, { alg: string; key: CryptoKey | Uint8Array }>();
  for (const jwk of jwks.keys) {
    const alg = jwk.alg ?? (jwk.crv === 'Ed25519' ? 'EdDSA' : jwk.crv === 'P-256' ? 'ES256' : undefined);
    if (typeof jwk.kid !== 'string' || alg === undefined || !(ALGORITHMS as readonly string[]).includes(alg)) continue;
    const { d: _private, ...pub } = jwk;
    out.set(jwk.kid, { alg, key: (await importJWK(pub, alg)) as CryptoKey | Uint8Array });
  }
  return out;
}

/**
 * Verify one checkpoint JWS against `keys`: header `typ` exactly `behalf-checkpoint+jwt`, `alg`
 * ES256 or EdDSA and the key's own, a `kid` of the set, a valid signature, and a payload of
 * exactly `seq` (positive integer), `hash` (64 lowercase hex) and `time` (ISO 8601).
 *
 * This does NOT compare the checkpoint with the trail (verify-checkpoints.ts does), does NOT
 * check that `time` is plausible (a holder of the key can sign any time), and cannot tell a key
 * that was dropped from the set from one that never belonged to the gateway (`unknownKey`).
 */
export async function verifyCheckpoint(jws: string, keys: CheckpointKeys): Promise<CheckpointCheck> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return { ok: false, invalid: 'not a compact JWS' };
  }
  if (header.typ !== CHECKPOINT_TYPE) return { ok: false, invalid: `typ is ${JSON.stringify(header.typ ?? null)}, not ${CHECKPOINT_TYPE}` };
  if (typeof header.alg !== 'string' || !(ALGORITHMS as readonly string[]).includes(header.alg)) return { ok: false, invalid: `alg ${JSON.stringify(header.alg ?? null)} is not allowed` };
  if (typeof header.kid !== 'string' || header.kid === '') return { ok: false, invalid: 'no kid' };
  const key = keys.get(header.kid);
  if (key === undefined) return { ok: false, unknownKey: header.kid };
  if (key.alg !== header.alg) return { ok: false, invalid: `alg ${header.alg} is not the algorithm of key ${header.kid}` };
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, key.key, { algorithms: [key.alg] }));
  } catch {
    return { ok: false, invalid: `the signature does not verify with key ${header.kid}` };
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return { ok: false, invalid: 'the payload is not JSON' };
  }
  const c = claims as Record<string, unknown> | null;
  if (c === null || typeof c !== 'object' || Array.isArray(c) || Object.keys(c).sort().join(',') !== 'hash,seq,time') return { ok: false, invalid: 'the payload is not {seq, hash, time}' };
  if (typeof c.seq !== 'number' || !Number.isSafeInteger(c.seq) || c.seq < 1) return { ok: false, invalid: 'seq is not a positive integer' };
  if (typeof c.hash !== 'string' || !HEX64.test(c.hash)) return { ok: false, invalid: 'hash is not 64 hex digits' };
  if (typeof c.time !== 'string' || !Number.isFinite(Date.parse(c.time))) return { ok: false, invalid: 'time is not an ISO 8601 time' };
  return { ok: true, checkpoint: { seq: c.seq, hash: c.hash, time: c.time, kid: header.kid } };
}

/** One stored line: `{"seq":..,"hash":..,"time":..,"kid":..,"jws":..}`. */
export function checkpointLine(cp: StoredCheckpoint): string {
  return JSON.stringify({ seq: cp.seq, hash: cp.hash, time: cp.time, kid: cp.kid, jws: cp.jws });
}

/** The JWS of a stored line, or why it is not one. Only the JWS is trusted; the rest is a copy. */
export function jwsOfLine(line: string): string | { problem: string } {
  try {
    const v = JSON.parse(line) as { jws?: unknown } | null;
    if (v !== null && typeof v === 'object' && typeof v.jws === 'string') return v.jws;
  } catch {
    // fall through
  }
  return { problem: 'not a checkpoint line' };
}
