import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

/** One open session of a test MCP server. */
export interface TestSession {
  readonly server: Server;
  readonly transport: StreamableHTTPServerTransport;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

/**
 * Answers a request of a known session itself instead of its transport (a test server that
 * misbehaves on purpose); returns whether it did.
 */
export type SessionIntercept = (body: unknown, res: ServerResponse) => boolean;

/**
 * The request handler of a test MCP server on the SDK's Streamable HTTP transport: a request of a
 * known session goes to it (unless `intercept` answers it); an `initialize` opens a new one
 * (`buildServer()`), kept in `sessions`; anything else is the 404 "Session not found" a restarted
 * server answers.
 */
export function sessionRouter(sessions: Map<string, TestSession>, buildServer: () => Server, intercept?: SessionIntercept) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      const sid = req.headers['mcp-session-id'];
      const existing = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (existing !== undefined && intercept?.(body, res) === true) return;
      if (existing !== undefined) return void (await existing.transport.handleRequest(req, res, body));
      if (typeof sid === 'string' || !isInitializeRequest(body)) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      const server = buildServer();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, { server, transport }),
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    } catch {
      if (!res.headersSent) res.writeHead(500).end();
    }
  };
}
