/**
 * Writes test/vectors/batched-assertion/vectors.json: Merkle trees (deterministic) and batched
 * assertions signed with a key made for the purpose (ES256 signatures are randomised, so the file
 * is written once and committed; its private key is discarded). A verifier in another language
 * checks itself against the file: every `valid` case must verify, every other must fail with the
 * code given. Run: `node --import tsx scripts/batched-assertion-vectors.ts`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { ASSERTION_TYPE } from '../src/forward/identity/assertion-claims.js';
import { BATCH_ROOT_TYPE, formatBatchedAssertion } from '../src/forward/identity/batch-format.js';
import { buildTree, leafHash } from '../src/forward/identity/merkle-tree.js';
import { signCompact } from '../src/forward/identity/signed-assertion.js';
import { bodyDigest } from '../src/lib/digest.js';

const ISSUER = 'https://gateway.acme.test';
const AUDIENCE = 'https://hr.internal';
const NOW = 1_796_000_000; // 2026-11-29, epoch seconds

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = await exportJWK(publicKey);
const kid = await calculateJwkThumbprint(jwk);
const key = await crypto.subtle.importKey('pkcs8', privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);

const hex = (b: Buffer) => b.toString('hex');
const merkle = [1, 2, 3, 5, 8].map((size) => {
  const leaves = Array.from({ length: size }, (_, i) => Buffer.from(`leaf ${i}`));
  const tree = buildTree(leaves.map((l) => leafHash(l)));
  return { leaves: leaves.map((l) => l.toString()), root: hex(tree.root), proofs: leaves.map((_, i) => ({ index: i, path: tree.proof(i).map(hex) })) };
});

const claims = (over: Record<string, unknown>) => ({
  iss: ISSUER, aud: AUDIENCE, sub: 'alice', tenant: 'acme', roles: ['manager'], scope: 'hr.read', act: { sub: 'chatgpt' }, azp: 'chatgpt',
  idp_iss: 'https://idp.acme.test', htm: 'GET', htu: '/v1/reviews/bob', bdg: bodyDigest(undefined), jti: randomUUID(), iat: NOW, exp: NOW + 60, ...over,
});
const leafOf = (c: object) => Buffer.from(JSON.stringify(c));
function batch(leaves: Buffer[], root: Record<string, unknown> = {}, typ = BATCH_ROOT_TYPE): string[] {
  const tree = buildTree(leaves.map((l) => leafHash(l)));
  const signed = signCompact('ES256', kid, key, typ, { iss: ISSUER, iat: NOW, exp: NOW + 60, root: tree.root.toString('base64url'), size: tree.size, ...root });
  return leaves.map((l, i) => formatBatchedAssertion(signed, l.toString('base64url'), i, tree.proof(i)));
}

const get = { method: 'GET', url: '/v1/reviews/bob' };
const three = [leafOf(claims({})), leafOf(claims({ sub: 'bob', htu: '/v1/reviews/carol' })), leafOf(claims({ sub: 'carol', htm: 'POST', htu: '/v1/reviews/carol', bdg: bodyDigest('{"rating":4}') }))];
const good = batch(three);
const [root0, leaf0, proof0] = good[0]!.split('~') as [string, string, string];
const [, leaf1, proof1] = good[1]!.split('~') as [string, string, string];
/** The signed root with one character of its signature's middle changed. */
const flipped = (jws: string) => {
  const at = jws.length - 30;
  return jws.slice(0, at) + (jws[at] === 'A' ? 'B' : 'A') + jws.slice(at + 1);
};
const edited = Buffer.from(JSON.stringify({ ...JSON.parse(three[0]!.toString()), sub: 'mallory' })).toString('base64url');

const cases = [
  { name: 'leaf 0 of 3', header: good[0], request: get, expect: 'valid', user: 'alice' },
  { name: 'leaf 1 of 3', header: good[1], request: { method: 'GET', url: '/v1/reviews/carol' }, expect: 'valid', user: 'bob' },
  { name: 'leaf 2 of 3, with a body', header: good[2], request: { method: 'POST', url: '/v1/reviews/carol', body: '{"rating":4}' }, expect: 'valid', user: 'carol' },
  { name: 'leaf 0, another request', header: good[0], request: { method: 'GET', url: '/v1/reviews/mallory' }, expect: 'assertion-request-mismatch' },
  { name: 'leaf 0 edited to name mallory', header: `${root0}~${edited}~${proof0}`, request: get, expect: 'assertion-invalid' },
  { name: "leaf 0 with leaf 1's proof", header: `${root0}~${leaf0}~${proof1}`, request: get, expect: 'assertion-invalid' },
  { name: 'leaf 1 presented at index 0', header: `${root0}~${leaf1}~0.${proof1.split('.')[1]}`, request: { method: 'GET', url: '/v1/reviews/carol' }, expect: 'assertion-invalid' },
  { name: 'index with a leading zero', header: `${root0}~${leaf0}~00.${proof0.split('.')[1]}`, request: get, expect: 'assertion-invalid' },
  { name: 'two parts only', header: `${root0}~${leaf0}`, request: get, expect: 'assertion-invalid' },
  { name: 'a leaf for another audience', header: batch([leafOf(claims({ aud: 'https://payroll.internal' })), leafOf(claims({}))])[0], request: get, expect: 'assertion-audience-mismatch' },
  { name: 'a leaf outliving its root', header: batch([leafOf(claims({ exp: NOW + 60 })), leafOf(claims({}))], { exp: NOW + 30 })[0], request: get, expect: 'assertion-invalid' },
  { name: "a leaf with another iat than its root's", header: batch([leafOf(claims({ iat: NOW - 1, exp: NOW + 59 })), leafOf(claims({}))])[0], request: get, expect: 'assertion-invalid' },
  { name: 'a root signed with the assertion typ', header: batch([leafOf(claims({})), leafOf(claims({}))], {}, ASSERTION_TYPE)[0], request: get, expect: 'assertion-invalid' },
  { name: 'a root claiming size 1', header: batch([leafOf(claims({})), leafOf(claims({}))], { size: 1 })[0], request: get, expect: 'assertion-invalid' },
  { name: 'leaf 0 of 3, 61 s later', header: good[0], request: get, expect: 'assertion-expired', now: NOW + 61 + 5 },
  { name: 'the signed root alone', header: root0, request: get, expect: 'assertion-invalid' },
  { name: 'leaf 0 with a bit of the root signature flipped', header: `${flipped(root0)}~${leaf0}~${proof0}`, request: get, expect: 'assertion-invalid' },
];

const out = {
  description: 'Batched behalf assertions (docs/batched-assertions.md). merkle: RFC 6962 trees over the UTF-8 leaves, hashes in hex. assertions: verify each header for `request` with issuer, audience and jwks at `now` (epoch seconds; default `now` below) and a clock tolerance of 5 s; `expect` is "valid" or the error code.',
  merkle,
  assertions: { issuer: ISSUER, audience: AUDIENCE, now: NOW, clockToleranceSeconds: 5, jwks: { keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] }, cases },
};
await mkdir(new URL('../test/vectors/batched-assertion/', import.meta.url), { recursive: true });
await writeFile(new URL('../test/vectors/batched-assertion/vectors.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${merkle.length} trees and ${cases.length} assertion cases`);
