/**
 * An `OAuthClientProvider` (the SDK's interface) that keeps everything in memory and plays the
 * user's browser against the dev IdP: where a real client would open the authorization URL in a
 * browser, this one fetches it with `login_hint=<user>` (the dev IdP then approves at once),
 * reads the `code` from the redirect's `Location` and keeps it for `transport.finishAuth(code)`.
 */
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/** One HTTP request a client made, as a recording `fetch` saw it (no bodies, no tokens). */
export interface SeenRequest {
  method: string;
  url: string;
  status: number;
  /** The request's form or JSON body, for the IdP's /register and /token (the test IdP's own values). */
  body?: string;
  /** The response's `WWW-Authenticate`, when it had one. */
  wwwAuthenticate?: string;
}

/** A `fetch` that records every request and its status, so a test can see the client's steps. */
export function recordingFetch(seen: SeenRequest[]): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const body = request.method === 'POST' && !request.url.endsWith('/mcp') ? await request.clone().text() : undefined;
    const response = await fetch(request);
    const challenge = response.headers.get('www-authenticate');
    seen.push({
      method: request.method,
      url: request.url,
      status: response.status,
      ...(body === undefined ? {} : { body }),
      ...(challenge === null ? {} : { wwwAuthenticate: challenge }),
    });
    return response;
  };
}

/** Signs `user` in through the dev IdP's /authorize page, without a browser. */
export class DevIdpBrowserProvider implements OAuthClientProvider {
  private client: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier: string | undefined;
  private readonly expectedState = crypto.randomUUID();
  /** The authorization URL the SDK built (what a browser would have opened). */
  authorizationUrl: URL | undefined;
  /** The code from the redirect back to `redirectUrl`. */
  code: string | undefined;
  /** The `iss` the IdP put in the redirect (RFC 9207). */
  redirectIssuer: string | undefined;

  constructor(
    private readonly user: string,
    readonly redirectUrl = 'http://127.0.0.1:53682/callback',
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: `behalf oauth test (${this.user})`,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state(): string {
    return this.expectedState;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.saved;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    if (this.verifier === undefined) throw new Error('no code verifier saved');
    return this.verifier;
  }

  /** The "browser": follows the IdP's /authorize as `user` and catches the redirect back. */
  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizationUrl = new URL(url.href);
    const signIn = new URL(url.href);
    signIn.searchParams.set('login_hint', this.user);
    const res = await fetch(signIn, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status !== 302 || location === null) throw new Error(`the IdP did not redirect back (HTTP ${res.status})`);
    const back = new URL(location);
    if (`${back.origin}${back.pathname}` !== this.redirectUrl) throw new Error('redirected somewhere else than the redirect URI');
    if (back.searchParams.get('state') !== this.expectedState) throw new Error('state does not match');
    const error = back.searchParams.get('error');
    if (error !== null) throw new Error(`authorization refused: ${error}`);
    this.redirectIssuer = back.searchParams.get('iss') ?? undefined;
    this.code = back.searchParams.get('code') ?? undefined;
  }
}
