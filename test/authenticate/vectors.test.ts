/**
 * Runs every JWT attack vector in test/vectors/jwt as a real HTTP request to a real node:http
 * server that authenticates with the real authenticator, against a real JWKS server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAuthenticator, bearerChallenge, challengeErrorFor, type Authenticator } from '../../src/authenticate/index.js';
import { issuerSchema } from '../../src/config/schema.js';
import { buildVectorRequest, loadJwtVectors, startJwtVectorEnv, type JwtVectorEnv } from '../vectors/jwt/build.js';
import { challengeError, send, serve } from './http-helpers.js';

const vectors = await loadJwtVectors();

describe('JWT attack vectors', () => {
  let env: JwtVectorEnv;
  let auth: Authenticator;
  let gateway: Awaited<ReturnType<typeof serve>>;

  before(async () => {
    env = await startJwtVectorEnv();
    auth = createAuthenticator({
      issuers: env.issuerConfigs.map((i) => issuerSchema.parse(i)),
      maxTokenBytes: env.maxTokenBytes,
      now: () => env.now,
      // The vectors name users as the primary issuer's (plain ids); the others' are qualified.
      homeIssuer: 'primary',
    });
    gateway = await serve((req, res) => {
      void Promise.resolve(auth.authenticate({ headers: req.headers, rawHeaders: req.rawHeaders, url: req.url ?? '/' }, { allowedIssuers: env.allowedIssuers })).then((r) => {
        if (r.ok) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(r.identity));
          return;
        }
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (r.decision.status === 401) {
          const error = challengeErrorFor(r.decision.reason);
          headers['www-authenticate'] = bearerChallenge({ resourceMetadata: 'http://gw.test/.well-known/oauth-protected-resource', ...(error ? { error } : {}) });
        }
        res.writeHead(r.decision.status, headers).end(JSON.stringify({ reason: r.decision.reason, message: r.decision.message, detail: r.decision.detail }));
      });
    });
  });

  after(async () => {
    await gateway?.close();
    await env?.close();
  });

  it('has the vectors the brief lists', () => {
    const names = new Set(vectors.map((v) => v.name));
    for (const n of ['alg-none-lowercase', 'alg-none-mixed-case', 'hs256-with-rsa-public-key-pem', 'embedded-jwk-header', 'jku-attacker-url', 'x5u-attacker-url', 'kid-path-traversal', 'kid-sql-injection', 'es256-zero-signature-raw', 'es256-zero-signature-der', 'expired', 'nbf-in-future', 'iat-in-future', 'exp-missing', 'iss-wrong', 'aud-wrong', 'aud-missing', 'other-issuer-on-bound-route', 'id-token-where-access-token-required', 'crit-unknown', 'oversized', 'token-in-query', 'two-authorization-headers', 'trailing-garbage-segment', 'signature-stripped', 'valid-rs256', 'valid-ps256', 'valid-es256', 'valid-eddsa']) {
      assert.ok(names.has(n), `missing vector ${n}`);
    }
  });

  for (const vector of vectors) {
    it(`${vector.name}: ${vector.description}`, async () => {
      const req = await buildVectorRequest(vector, env);
      const res = await send(gateway.url, req.url, { headers: req.headers });
      const body = JSON.parse(res.body) as Record<string, unknown>;
      const expect = vector.expect;
      if (expect.accept) {
        assert.equal(res.status, 200, `rejected with ${String(body.reason)}: ${String(body.detail)}`);
        for (const [k, v] of Object.entries(expect.identity ?? {})) assert.deepEqual(body[k], v, `identity.${k}`);
      } else {
        assert.equal(body.reason, expect.reason, `detail: ${String(body.detail)}`);
        assert.equal(res.status, expect.status);
        assert.equal(challengeError(res.headers['www-authenticate']), expect.challengeError ?? undefined);
        assert.equal(body.message, body.reason === 'token-missing' || expect.challengeError === 'invalid_request' ? 'a valid bearer access token is required' : 'invalid or expired access token');
        // The client sees a generic message; the detail never contains the token.
        if (req.token !== '') assert.ok(!res.body.includes(req.token.split('.')[1] ?? req.token), 'response echoes the token');
      }
      assert.equal(env.attackerHits(), 0, 'the attacker server was contacted');
    });
  }

  it('the same vectors are also rejected when the authenticator is called directly with rawHeaders', async () => {
    for (const vector of vectors) {
      if (vector.expect.accept) continue;
      const req = await buildVectorRequest(vector, env);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
      const r = await auth.authenticate({ headers, rawHeaders: req.rawHeaders, url: req.url }, { allowedIssuers: env.allowedIssuers });
      assert.equal(r.ok, false, vector.name);
      if (!r.ok) assert.equal(r.decision.reason, vector.expect.reason, vector.name);
    }
    assert.equal(env.attackerHits(), 0);
  });
});
