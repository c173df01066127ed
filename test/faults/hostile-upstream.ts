import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { sessionRouter, type TestSession } from '../mcp/upstreams/session-router.js';

/**
 * A real MCP server (the SDK's `Server` over Streamable HTTP, stateful sessions) on 127.0.0.1
 * with one healthy tool and two hostile ones, shared by every user of the gateway:
 *
 * - `lookup`: answers `found <employee>` on an SSE stream, as the SDK does;
 * - `profile`: the same, annotated `readOnlyHint` (safe to send again);
 * - `refuse`: read-only too, answers the JSON-RPC error `-32000` (a common "server error" code);
 * - `explode`: answers the SSE response head, then destroys the socket (FIN) before any answer;
 * - `explode_rst`: the same, then resets the socket (RST).
 *
 * With `breakFirst`, the first `count` requests of `method` (over all sessions) are cut the same
 * way. It counts what it served, and can stop and start again on the same port (its sessions are
 * forgotten, as a restarted server's are).
 */

export interface HostileUpstream {
  readonly url: string;
  /** `initialize` requests served: one per session the gateway opened. */
  readonly sessionsOpened: number;
  /** Calls that reached it, per tool name. */
  readonly calls: Readonly<Record<string, number>>;
  /** Requests that reached it (cut or served), per JSON-RPC method, `initialize` aside. */
  readonly requests: Readonly<Record<string, number>>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const TOOLS: Tool[] = [
  { name: 'lookup', description: 'Find an employee', inputSchema: { type: 'object', properties: { employee: { type: 'string' } }, required: ['employee'] } },
  { name: 'profile', description: 'Read an employee profile', inputSchema: { type: 'object', properties: { employee: { type: 'string' } } }, annotations: { readOnlyHint: true } },
  { name: 'refuse', description: 'Always refuses', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
  { name: 'explode', description: 'Breaks its answer (FIN)', inputSchema: { type: 'object' } },
  { name: 'explode_rst', description: 'Breaks its answer (RST)', inputSchema: { type: 'object' } },
];

const HOSTILE = new Set(['explode', 'explode_rst']);

export async function startHostileUpstream(opts: { breakFirst?: { method: string; count: number } } = {}): Promise<HostileUpstream> {
  const sessions = new Map<string, TestSession>();
  const calls: Record<string, number> = {};
  const requests: Record<string, number> = {};
  let sessionsOpened = 0;
  const count = (tool: string) => (calls[tool] = (calls[tool] ?? 0) + 1);

  const buildServer = (): Server => {
    sessionsOpened++;
    const server = new Server({ name: 'hostile-upstream', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
    server.setRequestHandler(CallToolRequestSchema, (req) => {
      count(req.params.name);
      if (req.params.name === 'refuse') throw new McpError(-32000, 'the backend said no');
      const employee = String((req.params.arguments as Record<string, unknown> | undefined)?.['employee']);
      return { content: [{ type: 'text', text: `found ${employee}` }] };
    });
    return server;
  };

  // The hostile tools' "handler": the response head goes out, then the socket is cut.
  const intercept = (body: unknown, res: ServerResponse): boolean => {
    const rpc = body as { method?: unknown; params?: { name?: unknown } } | undefined;
    const method = typeof rpc?.method === 'string' ? rpc.method : '';
    const seen = (requests[method] = (requests[method] ?? 0) + 1);
    const tool = method === 'tools/call' ? rpc?.params?.name : undefined;
    const hostile = typeof tool === 'string' && HOSTILE.has(tool);
    if (!hostile && !(opts.breakFirst?.method === method && seen <= opts.breakFirst.count)) return false;
    if (hostile) count(tool);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    // Cut once the head and a comment are on the wire (a destroy before that could drop them).
    res.write(': working\n\n', () => (tool === 'explode_rst' ? res.socket?.resetAndDestroy() : res.socket?.destroy()));
    return true;
  };

  const route = sessionRouter(sessions, buildServer, intercept);
  let http: HttpServer | undefined;
  let port = 0;
  const start = async () => {
    http = createServer((req: IncomingMessage, res: ServerResponse) => void route(req, res));
    await new Promise<void>((resolve, reject) => {
      http!.once('error', reject);
      http!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (http.address() as AddressInfo).port;
  };
  const stop = async () => {
    const server = http;
    http = undefined;
    for (const s of sessions.values()) await s.server.close().catch(() => undefined);
    sessions.clear();
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await start();

  return {
    get url() {
      return `http://127.0.0.1:${port}/mcp`;
    },
    get sessionsOpened() {
      return sessionsOpened;
    },
    calls,
    requests,
    stop,
    start,
  };
}
