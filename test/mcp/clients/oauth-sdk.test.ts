import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { launchDemo, type Demo } from '../../../examples/hr-demo/launch.js';
import { DevIdpBrowserProvider, recordingFetch, type SeenRequest } from './oauth-provider.js';

// The official TypeScript SDK client, signing in the way a real MCP client does: no token given,
// only an OAuthClientProvider. Against the HR demo (dev IdP + HR backend + behalf), the SDK's own
// auth() flow finds the IdP from behalf's 401, registers, runs the code flow with PKCE and the
// RFC 8707 resource, and then lists and calls the HR tools as Alice and as Mallory.

let demo: Demo;
let stateDir: string;
let mcpUrl: string;

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'behalf-oauth-sdk-'));
  demo = await launchDemo({ stateDir, logger: pino({ level: 'silent' }) });
  mcpUrl = `${demo.gatewayUrl}/mcp`;
});
after(async () => {
  await demo.close();
  await rm(stateDir, { recursive: true, force: true });
});

/** A signed-in SDK client for `user`, and what happened on the wire while signing in. */
interface SignedIn {
  client: Client;
  provider: DevIdpBrowserProvider;
  seen: SeenRequest[];
}

/**
 * What an MCP client application does: connect; on `UnauthorizedError` the SDK has already
 * discovered, registered and sent the user to the IdP; when the browser comes back with a code,
 * `finishAuth(code)` and connect again.
 */
async function signIn(user: string): Promise<SignedIn> {
  const seen: SeenRequest[] = [];
  const provider = new DevIdpBrowserProvider(user);
  const options = { authProvider: provider, fetch: recordingFetch(seen) };
  const first = new StreamableHTTPClientTransport(new URL(mcpUrl), options);
  await assert.rejects(new Client({ name: 'oauth-test', version: '1.0.0' }).connect(first), UnauthorizedError, `${user}: the first connect must need sign-in`);
  assert.ok(provider.code, `${user}: the IdP redirected back with a code`);
  await first.finishAuth(provider.code);
  await first.close();
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), options));
  return { client, provider, seen };
}

const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();
const text = (result: Awaited<ReturnType<Client['callTool']>>) => (result.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('');

describe('the SDK client signs in with its OAuth client provider and calls the HR tools', () => {
  let alice: SignedIn;
  let mallory: SignedIn;
  before(async () => {
    alice = await signIn('alice');
    mallory = await signIn('mallory');
  });
  after(async () => {
    await alice?.client.close();
    await mallory?.client.close();
  });

  it('finds the IdP through the 401 and the protected resource metadata, then registers dynamically', async () => {
    const { seen } = alice;
    const challenge = seen[0]!;
    assert.equal(`${challenge.method} ${challenge.url} ${challenge.status}`, `POST ${mcpUrl} 401`);
    const prmUrl = `${demo.gatewayUrl}/.well-known/oauth-protected-resource/mcp`;
    // The challenge names the endpoint's scopes, the ones the client asks for first (MCP authorization, scope selection).
    assert.equal(challenge.wwwAuthenticate, `Bearer resource_metadata="${prmUrl}", scope="reviews:read reviews:write"`);

    const steps = seen.map((r) => `${r.method} ${r.url.split('?')[0]} ${r.status}`);
    const at = (step: string) => {
      const i = steps.indexOf(step);
      assert.ok(i > 0, `the client did: ${step} (it did: ${steps.join(', ')})`);
      return i;
    };
    const prm = at(`GET ${prmUrl} 200`);
    const asMetadata = at(`GET ${demo.idp.issuer}/.well-known/oauth-authorization-server 200`);
    const register = at(`POST ${demo.idp.issuer}/register 201`);
    const token = at(`POST ${demo.idp.issuer}/token 200`);
    assert.ok(prm < asMetadata && asMetadata < register && register < token, 'discovery, then registration, then the token');
    assert.ok(steps.indexOf(`POST ${mcpUrl} 200`, token) > token, 'with the token, initialize is accepted');

    const metadata = (await (await fetch(prmUrl)).json()) as Record<string, unknown>;
    assert.equal(metadata['resource'], mcpUrl);
    assert.deepEqual(metadata['authorization_servers'], [demo.idp.issuer]);

    const registered = alice.provider.clientInformation();
    assert.ok(registered?.client_id, 'the client was given a client_id');
    assert.equal(registered.client_secret, undefined, 'a public client: no secret');
    assert.notEqual(mallory.provider.clientInformation()?.client_id, registered.client_id, 'each client registers itself');
  });

  it('asks with PKCE S256 and resource=<gateway>/mcp, and the token it gets is for exactly that audience', async () => {
    for (const [user, signed] of [['alice', alice], ['mallory', mallory]] as const) {
      const url = signed.provider.authorizationUrl!;
      assert.equal(`${url.origin}${url.pathname}`, `${demo.idp.issuer}/authorize`);
      const q = url.searchParams;
      assert.equal(q.get('response_type'), 'code');
      assert.equal(q.get('client_id'), signed.provider.clientInformation()?.client_id);
      assert.equal(q.get('code_challenge_method'), 'S256');
      assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.equal(q.get('resource'), mcpUrl, 'RFC 8707 resource');
      assert.deepEqual(q.get('scope')?.split(' ').sort(), ['reviews:read', 'reviews:write'], 'the scopes behalf advertises');
      assert.equal(signed.provider.redirectIssuer, demo.idp.issuer, 'RFC 9207 iss in the redirect');

      const tokenRequest = new URLSearchParams(signed.seen.find((r) => r.url === `${demo.idp.issuer}/token`)!.body);
      assert.equal(tokenRequest.get('grant_type'), 'authorization_code');
      assert.equal(tokenRequest.get('resource'), mcpUrl);
      const verifier = tokenRequest.get('code_verifier') ?? '';
      assert.equal(createHash('sha256').update(verifier).digest('base64url'), q.get('code_challenge'), 'the verifier matches the challenge');

      const tokens = signed.provider.tokens()!;
      assert.equal(tokens.token_type, 'Bearer');
      assert.ok(tokens.refresh_token, 'a refresh token too');
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.aud, mcpUrl, `${user}: aud is the MCP endpoint, not the gateway root`);
      assert.equal(claims.sub, user);
      assert.equal(claims['client_id'], signed.provider.clientInformation()?.client_id, 'the acting client is the registered one');
    }
  });

  it('Alice and Mallory see different tools, and the same call gets different answers', async () => {
    assert.deepEqual(await names(alice.client), ['add_review', 'get_reviews', 'list_my_visible_reviews']);
    assert.deepEqual(await names(mallory.client), ['get_reviews', 'list_my_visible_reviews'], 'Mallory manages nobody: no add_review');

    const bobForAlice = await alice.client.callTool({ name: 'get_reviews', arguments: { employee: 'bob' } });
    assert.notEqual(bobForAlice.isError, true);
    assert.match(text(bobForAlice), /billing migration/, "Alice reads her report Bob's review");

    await assert.rejects(mallory.client.callTool({ name: 'get_reviews', arguments: { employee: 'bob' } }), (err: unknown) => {
      assert.ok(err instanceof McpError, String(err));
      assert.equal(err.code, -31403);
      assert.match(err.message, /denied-by-rule/);
      assert.doesNotMatch(err.message, /billing/);
      return true;
    });
    const own = await mallory.client.callTool({ name: 'get_reviews', arguments: { employee: 'mallory' } });
    assert.match(text(own), /Closed Q2 books/, 'Mallory reads her own');

    const visible = await mallory.client.callTool({ name: 'list_my_visible_reviews', arguments: {} });
    assert.doesNotMatch(text(visible), /billing migration/, "Bob's review never reaches Mallory");
    assert.equal(demo.hr.lastCaller()?.user, 'mallory', 'the backend saw the signed-in user');
  });
});
