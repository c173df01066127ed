// A trivial upstream MCP server: the official SDK's McpServer behind its Streamable HTTP server
// transport on node:http, session-based (one transport per `initialize`, as the SDK's examples
// do). Every answer to a POST is a one-event SSE stream: the SDK's default.
// With `--json` (diagnosis only) it answers JSON (`enableJsonResponse`), which LEAKS in SDK
// 1.32: in that mode the transport never removes a call's `_streamMapping` entry (its cleanup
// runs only for SSE streams), about 5 KB of heap per call until the session ends. behalf keeps
// one upstream session for its life, so behind behalf that heap only grows and the upstream
// slows down (GC) behind behalf but not directly: see bench/README.md, "An honest MCP benchmark".
// One tool, `get_review`, answers at once. Serves POST/GET/DELETE at /mcp and GET /memory
// (upstream-memory.ts); prints its port.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { MEMORY_PATH, memoryAnswer } from './upstream-memory.js';

/** The tool's name on this server (behalf serves it as `bench.get_review`; see mcp-case.ts). */
const BENCH_TOOL = 'get_review';

const transports = new Map<string, StreamableHTTPServerTransport>();

function newServer(): McpServer {
  const server = new McpServer({ name: 'bench-upstream', version: '1.0.0' });
  server.registerTool(
    BENCH_TOOL,
    { description: 'An employee review (answers at once)', inputSchema: { employee: z.string() }, annotations: { readOnlyHint: true } },
    async ({ employee }) => ({ content: [{ type: 'text', text: JSON.stringify({ reviews: [{ employee, rating: 'meets', summary: 'Solid delivery.' }] }) }] }),
  );
  return server;
}

const http = createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  if (req.method === 'GET' && path === MEMORY_PATH) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(memoryAnswer()));
    return;
  }
  if (path !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  const sessionId = req.headers['mcp-session-id'];
  if (typeof sessionId === 'string') {
    const transport = transports.get(sessionId);
    if (transport === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}');
      return;
    }
    void transport.handleRequest(req, res);
    return;
  }
  // No session: only an `initialize` is valid here; the transport answers 400 to anything else.
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: randomUUID,
    enableJsonResponse: process.argv.includes('--json'),
    onsessioninitialized: (id) => void transports.set(id, transport),
  });
  transport.onclose = () => {
    if (transport.sessionId !== undefined) transports.delete(transport.sessionId);
  };
  const server = newServer();
  void server.connect(transport).then(() => transport.handleRequest(req, res));
});
http.keepAliveTimeout = 60_000;
http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
