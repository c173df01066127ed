import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { startRecordingBackend, type RecordingBackend } from '../../e2e/harness.js';
import { connectAs, startDoorEnv, type DoorEnv } from './harness.js';

// The gateway as configured (no injected catalog): a tool declared in the config calls a REST
// backend, an upstream MCP server's tools appear namespaced, and the endpoint exists because
// tools are configured. Proves the door is wired to the real tool sources, validators and policy.

/** A stateless MCP server (the SDK's McpServer) with one `echo` tool; records the headers it got. */
async function startEchoUpstream(): Promise<{ url: string; headers: IncomingHttpHeaders[]; close(): Promise<void> }> {
  const headers: IncomingHttpHeaders[] = [];
  const http: Server = createServer((req, res) => {
    headers.push(req.headers);
    const server = new McpServer({ name: 'echo-upstream', version: '1.0.0' });
    server.registerTool('echo', { description: 'Echo', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    headers,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}

let env: DoorEnv;
let backend: RecordingBackend;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;

before(async () => {
  backend = await startRecordingBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"reviews":["solid quarter"]}');
  });
  upstream = await startEchoUpstream();
  env = await startDoorEnv(
    {
      routes: [{ id: 'hr', path: '/api/hr', upstream: `${backend.url}/v1`, audience: 'hr-backend' }],
      tools: [
        {
          name: 'get_review',
          description: 'Read an employee review',
          inputSchema: { type: 'object', properties: { employee: { type: 'string' } }, required: ['employee'] },
          call: { route: 'hr', method: 'GET', path: '/reviews/{employee}' },
        },
      ],
      upstreams: [{ id: 'up', url: upstream.url, pinning: 'off', headers: { authorization: 'Bearer gateway-own-key' } }],
      policies: [
        { id: 'own-or-reports', effect: 'allow', match: { tools: ['get_review'] }, when: 'body.employee == user.id || body.employee in user.reports' },
        { id: 'echo', effect: 'allow', match: { tools: ['up.echo'] } },
      ],
    },
    { configured: true },
  );
});
after(async () => {
  await env.close();
  await upstream.close();
  await backend.close();
});

describe('the MCP door on the configured tool sources', () => {
  it('serves config tools and upstream tools, deciding each call with the policy', async () => {
    const { client } = await connectAs(env, 'bob');
    const deadline = Date.now() + 5_000;
    let names: string[] = [];
    while (Date.now() < deadline) {
      names = (await client.listTools()).tools.map((t) => t.name).sort();
      if (names.includes('up.echo')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(names, ['get_review', 'up.echo']);

    const own = await client.callTool({ name: 'get_review', arguments: { employee: 'bob' } });
    assert.notEqual(own.isError, true, JSON.stringify(own));
    const seen = backend.seen.at(-1)!;
    assert.equal(seen.url, '/v1/reviews/bob');
    assert.ok(seen.headers['x-behalf-assertion'], 'the backend gets the signed identity');
    assert.equal(seen.headers.authorization, undefined, 'never the user token');

    const calls = backend.seen.length;
    await assert.rejects(client.callTool({ name: 'get_review', arguments: { employee: 'alice' } }), (err: unknown) => err instanceof McpError && err.code === -31403);
    // SEP-1303: arguments the schema refuses are a tool execution error the model reads and corrects.
    const invalid = await client.callTool({ name: 'get_review', arguments: {} });
    assert.equal(invalid.isError, true, JSON.stringify(invalid));
    assert.match(JSON.stringify(invalid.content), /employee/);
    assert.equal(backend.seen.length, calls, 'refused calls never reach the backend');

    const echoed = await client.callTool({ name: 'up.echo', arguments: { text: 'hi' } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'echo: hi' }]);
    const upstreamCall = upstream.headers.at(-1)!;
    assert.equal(upstreamCall.authorization, 'Bearer gateway-own-key', 'the upstream gets the gateway\'s own credential, not the user token');
    await client.close();
  });

  it('publishes the endpoint\'s protected resource metadata although `mcp` is not configured', async () => {
    const prm = (await (await fetch(`${env.publicUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<string, unknown>;
    assert.equal(prm['resource'], env.mcpUrl);
  });
});
