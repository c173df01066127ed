import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, maxHeaderSize, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { createVerifier, isBehalfError, MAX_INLINE_TARGET_BYTES, queryDigest, type Verifier } from '../../src/backend/index.js';
import { ASSERTION_TYPE } from '../../src/forward/identity/assertion-claims.js';
import { createAssertionSigner, type AssertionInput } from '../../src/forward/identity/signed-assertion.js';
import { loadSigningKeys, type SigningKeys } from '../../src/forward/identity/signing-keys.js';
import { bodyDigest, EMPTY_BODY_DIGEST } from '../../src/lib/digest.js';
import { alice, close, listen, send } from '../forward/fixtures.js';

const ISSUER = 'https://gateway.test';
const AUDIENCE = 'http://hr.internal:8080';
const ARGS = '{"employee":"bob"}';

const claimsOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
const refusedWith = (code: string) => (err: unknown) => isBehalfError(err) && err.code === code;
/** A query of `bytes` bytes with distinct names (no repeated-name ambiguity). */
const longQuery = (bytes: number): string => {
  const parts: string[] = [];
  for (let i = 0; parts.join('&').length < bytes; i++) parts.push(`f${i}=${'x'.repeat(60)}`);
  return parts.join('&').slice(0, bytes);
};

describe('what the verifier binds: tool, method case, origin-form target, long queries', () => {
  let dir: string;
  let keys: SigningKeys;
  let verifier: Verifier;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'behalf-binding-'));
    keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: 'keys.json', rotateAfterDays: 0, overlapSeconds: 0 }, { baseDir: dir });
    verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: keys.publicJwks() });
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const sign = (over: Partial<AssertionInput> = {}) =>
    createAssertionSigner(keys, { issuer: ISSUER }).signSync({ identity: alice, audience: AUDIENCE, method: 'POST', path: '/mcp', bodyDigest: bodyDigest(ARGS), ...over });
  const headers = (token: string) => ({ 'x-behalf-assertion': token });

  describe('tool', () => {
    // An upstream MCP server's assertion binds POST /mcp and the arguments' digest: the same for
    // two tools called with the same arguments. Only the `tool` claim tells them apart.
    const forGetReviews = () => sign({ tool: 'get_reviews', argumentsDigest: bodyDigest(ARGS) });
    const req = (token: string) => ({ method: 'POST', url: '/mcp', headers: headers(token) });

    it('refuses an assertion minted for one tool presented for another with the same arguments', async () => {
      await assert.rejects(verifier.verify(req(forGetReviews()), ARGS, { tool: 'delete_reviews' }), refusedWith('assertion-tool-mismatch'));
      const caller = await verifier.verify(req(forGetReviews()), ARGS, { tool: 'get_reviews' });
      assert.equal(caller.tool, 'get_reviews');
    });

    it('refuses, when a tool is expected, an assertion that names none', async () => {
      await assert.rejects(verifier.verify(req(sign()), ARGS, { tool: 'get_reviews' }), refusedWith('assertion-tool-mismatch'));
    });

    it('with a `tools` list, refuses tools outside it and assertions without a tool', async () => {
      const listed = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: keys.publicJwks(), tools: ['get_reviews', 'list_employees'] });
      assert.equal((await listed.verify(req(forGetReviews()), ARGS)).tool, 'get_reviews');
      await assert.rejects(listed.verify(req(sign({ tool: 'delete_reviews' })), ARGS), refusedWith('assertion-tool-mismatch'));
      await assert.rejects(listed.verify(req(sign()), ARGS), refusedWith('assertion-tool-mismatch'));
      await assert.rejects(listed.verify(req(forGetReviews()), ARGS, { tool: 'list_employees' }), refusedWith('assertion-tool-mismatch'), 'both checks apply');
    });

    it('checks no tool when asked for none (backward compatible)', async () => {
      assert.equal((await verifier.verify(req(sign({ tool: 'delete_reviews' })), ARGS)).tool, 'delete_reviews');
    });
  });

  describe('method and target form', () => {
    it('refuses a lower-case method even though htm is its upper-case form', async () => {
      const token = sign({ method: 'GET', path: '/v1/reviews', bodyDigest: EMPTY_BODY_DIGEST });
      await assert.rejects(verifier.verify({ method: 'get', url: '/v1/reviews', headers: headers(token) }), refusedWith('assertion-request-mismatch'));
      await assert.rejects(verifier.verify({ method: 'Get', url: '/v1/reviews', headers: headers(token) }), refusedWith('assertion-request-mismatch'));
      await assert.rejects(verifier.verify({ url: '/v1/reviews', headers: headers(token) }), refusedWith('assertion-request-mismatch'), 'no method at all');
      assert.equal((await verifier.verify({ method: 'GET', url: '/v1/reviews', headers: headers(token) })).user, 'alice');
    });

    it('refuses absolute-form, authority-form and asterisk-form targets instead of reducing them to a path', async () => {
      const token = sign({ method: 'GET', path: '/v1/reviews?year=2024', bodyDigest: EMPTY_BODY_DIGEST });
      for (const url of ['http://hr.internal:8080/v1/reviews?year=2024', 'https://evil.example/v1/reviews?year=2024', 'hr.internal:8080', '*', '', undefined]) {
        await assert.rejects(verifier.verify({ method: 'GET', url, headers: headers(token) }), refusedWith('assertion-request-mismatch'), String(url));
      }
    });
  });

  describe('long targets: htu = path, htq = digest of the query', () => {
    it('keeps short targets as before: htu is path and query, no htq', () => {
      const path = `/v1/search?${longQuery(MAX_INLINE_TARGET_BYTES - '/v1/search?'.length)}`;
      assert.equal(path.length, MAX_INLINE_TARGET_BYTES);
      const claims = claimsOf(sign({ method: 'GET', path }));
      assert.equal(claims['htu'], path);
      assert.equal('htq' in claims, false);
      const short = claimsOf(sign({ method: 'GET', path: '/v1/reviews/bob?year=2024' }));
      assert.equal(short['htu'], '/v1/reviews/bob?year=2024');
      assert.equal('htq' in short, false);
    });

    it('binds a target one byte over the threshold by the path and the SHA-256 of the exact query', async () => {
      const query = longQuery(MAX_INLINE_TARGET_BYTES - '/v1/search?'.length + 1);
      const path = `/v1/search?${query}`;
      const token = sign({ method: 'GET', path, bodyDigest: EMPTY_BODY_DIGEST });
      const claims = claimsOf(token);
      assert.equal(claims['htu'], '/v1/search');
      assert.equal(claims['htq'], `sha256:${createHash('sha256').update(query).digest('base64url')}`);
      assert.equal(claims['htq'], queryDigest(query));
      assert.equal((await verifier.verify({ method: 'GET', url: path, headers: headers(token) })).user, 'alice');
    });

    it('counts bytes, not characters, and leaves a long target without a query whole', () => {
      const utf8 = `/v1/search?q=${'é'.repeat(MAX_INLINE_TARGET_BYTES / 2)}`;
      assert.ok(utf8.length <= MAX_INLINE_TARGET_BYTES);
      assert.equal(claimsOf(sign({ path: utf8 }))['htu'], '/v1/search');
      const longPath = `/v1/${'p'.repeat(2 * MAX_INLINE_TARGET_BYTES)}`;
      const claims = claimsOf(sign({ path: longPath }));
      assert.equal(claims['htu'], longPath);
      assert.equal('htq' in claims, false);
    });

    it('refuses a long target whose query, path or query presence changed', async () => {
      const query = longQuery(8 * 1024);
      const path = `/v1/search?${query}`;
      const token = sign({ method: 'GET', path, bodyDigest: EMPTY_BODY_DIGEST });
      const tampered = [
        `/v1/search?${query.slice(0, -1)}y`,
        `/v1/search?${query}&admin=1`,
        `/v1/search?${query.slice(1)}`,
        `/v1/other?${query}`,
        '/v1/search',
        `/v1/search?`,
        `/v1/search/?${query}`,
      ];
      for (const url of tampered) {
        await assert.rejects(verifier.verify({ method: 'GET', url, headers: headers(token) }), refusedWith('assertion-request-mismatch'), url.slice(0, 40));
      }
      assert.equal((await verifier.verify({ method: 'GET', url: path, headers: headers(token) })).user, 'alice');
    });

    it('refuses a malformed query binding', async () => {
      const { kid, key } = keys.current();
      const now = Math.floor(Date.now() / 1000);
      const forge = (claims: Record<string, unknown>) =>
        new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', idp_iss: alice.issuer, htm: 'GET', bdg: EMPTY_BODY_DIGEST, jti: crypto.randomUUID(), iat: now, exp: now + 30, ...claims })
          .setProtectedHeader({ alg: 'ES256', kid, typ: ASSERTION_TYPE })
          .sign(key);
      const url = '/v1/search?a=1';
      for (const claims of [{ htu: '/v1/search', htq: 'md5:abc' }, { htu: '/v1/search?a=1', htq: queryDigest('a=1') }, { htu: '/v1/search', htq: 42 }]) {
        await assert.rejects(verifier.verify({ method: 'GET', url, headers: headers(await forge(claims)) }), refusedWith('assertion-invalid'), JSON.stringify(claims));
      }
      assert.equal((await verifier.verify({ method: 'GET', url, headers: headers(await forge({ htu: '/v1/search', htq: queryDigest('a=1') })) })).user, 'alice', 'htq is accepted for a short target too');
    });

    it('gets an 8 KB query past a node:http backend with the default header limit, which the full-target form overflows', async () => {
      assert.equal(maxHeaderSize, 16_384, 'node default; this test sizes the query against it');
      const query = longQuery(8 * 1024);
      const path = `/v1/search?${query}`;
      const backend: Server = createServer((req, res) => {
        verifier.verify(req).then(
          (caller) => res.end(caller.user),
          (err: unknown) => res.writeHead(401).end(isBehalfError(err) ? err.code : 'crash'),
        );
      });
      const url = await listen(backend);
      try {
        const token = sign({ method: 'GET', path, bodyDigest: EMPTY_BODY_DIGEST });
        assert.ok(token.length < 1_024, `assertion of ${token.length} chars`);
        const ok = await send(url, { method: 'GET', path, headers: headers(token) });
        assert.equal(ok.status, 200, ok.body.toString());
        assert.equal(ok.body.toString(), 'alice');
        const bad = await send(url, { method: 'GET', path: `/v1/search?${query.slice(0, -1)}z`, headers: headers(token) });
        assert.equal(bad.status, 401);
        assert.equal(bad.body.toString(), 'assertion-request-mismatch');
        // The same request with the query repeated in the assertion (the form before htq): 431.
        const { kid, key } = keys.current();
        const now = Math.floor(Date.now() / 1000);
        const old = await new SignJWT({ ...claimsOf(token), htq: undefined, htu: path, iat: now, exp: now + 30 }).setProtectedHeader({ alg: 'ES256', kid, typ: ASSERTION_TYPE }).sign(key);
        assert.equal((await send(url, { method: 'GET', path, headers: headers(old) })).status, 431);
      } finally {
        await close(backend);
      }
    });
  });
});
