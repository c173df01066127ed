/**
 * A browser-based MCP client, for real: pages served from two origins run `fetch` against the
 * gateway in headless Chromium (Debian's, driven by playwright-core). From an origin in
 * `mcp.allowedOrigins` the browser's CORS checks pass: the preflight, an `initialize` whose
 * `Mcp-Session-Id` the page can read, a 401 whose `WWW-Authenticate` it can read. From any other
 * origin the browser refuses the answer. The protected resource metadata is readable from any
 * origin. `.ci/run` installs chromium when it is missing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDoorEnv, type DoorEnv } from '../mcp/door/harness.js';

const CHROMIUM = '/usr/bin/chromium';
// For a closed network: no background connections, no first-run work (playwright adds headless
// and a fresh empty profile itself).
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let allowedPage: Server;
let otherPage: Server;
let env: DoorEnv;
let browser: Browser;

async function servePage(): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>an MCP client page</title>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
const originOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  allowedPage = await servePage();
  otherPage = await servePage();
  env = await startDoorEnv({ mcp: { allowedOrigins: [originOf(allowedPage)] } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

after(async () => {
  await browser?.close();
  await env?.close();
  for (const s of [allowedPage, otherPage]) await new Promise((r) => s?.close(r));
});

async function pageAt(origin: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  return page;
}

interface FetchOutcome {
  status?: number;
  session?: string | null;
  challenge?: string | null;
  body?: string;
  error?: string;
}

/** `fetch` run by the page (so the browser applies CORS), as an MCP client would send it. */
function fetchFrom(page: Page, url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<FetchOutcome> {
  return page.evaluate(
    async ({ url, init }) => {
      try {
        const res = await fetch(url, init);
        return { status: res.status, session: res.headers.get('mcp-session-id'), challenge: res.headers.get('www-authenticate'), body: await res.text() };
      } catch (err) {
        return { error: String(err) };
      }
    },
    { url, init },
  );
}

const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'browser-client', version: '1' } } });
const mcpHeaders = (token?: string): Record<string, string> => ({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
});

describe('a browser-based MCP client (headless Chromium)', () => {
  it('from an allowed origin: initialize goes through the preflight and the page reads Mcp-Session-Id', async () => {
    const page = await pageAt(originOf(allowedPage));
    const out = await fetchFrom(page, env.mcpUrl, { method: 'POST', headers: mcpHeaders(await env.token('alice')), body: initialize });
    assert.equal(out.error, undefined, out.error);
    assert.equal(out.status, 200, out.body);
    assert.match(out.session ?? '', /^[A-Za-z0-9_-]{22}$/, 'Mcp-Session-Id is exposed to the page');
    assert.match(out.body ?? '', /"protocolVersion"/);
    await page.close();
  });

  it('from an allowed origin: a 401 reaches the page with its WWW-Authenticate challenge (the OAuth flow starts there)', async () => {
    const page = await pageAt(originOf(allowedPage));
    const out = await fetchFrom(page, env.mcpUrl, { method: 'POST', headers: mcpHeaders(), body: initialize });
    assert.equal(out.status, 401, out.error);
    assert.match(out.challenge ?? '', /^Bearer .*resource_metadata=/);
    await page.close();
  });

  it('from any other origin: the browser refuses the answer, and nothing is served to it', async () => {
    const page = await pageAt(originOf(otherPage));
    const out = await fetchFrom(page, env.mcpUrl, { method: 'POST', headers: mcpHeaders(await env.token('alice')), body: initialize });
    assert.equal(out.status, undefined, `the page read an answer: ${out.status} ${out.body?.slice(0, 200)}`);
    assert.match(out.error ?? '', /TypeError|Failed to fetch/);
    const refused = (await env.auditRecords()).filter((r) => r.reason === 'origin-not-allowed');
    assert.ok(refused.length >= 1, 'the refused request is in the trail');
    await page.close();
  });

  it('the protected resource metadata is readable from any origin', async () => {
    const page = await pageAt(originOf(otherPage));
    const out = await fetchFrom(page, `${env.publicUrl}/.well-known/oauth-protected-resource/mcp`, { method: 'GET', headers: {} });
    assert.equal(out.error, undefined, out.error);
    assert.equal(out.status, 200);
    assert.equal(JSON.parse(out.body ?? '{}').resource, env.mcpUrl);
    await page.close();
  });
});
