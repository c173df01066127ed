import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { sessionRouter, type TestSession } from './session-router.js';

/**
 * A real MCP server (the SDK's low-level `Server` over Streamable HTTP, stateful sessions) on
 * 127.0.0.1 for the upstream tests. It records what every tool call received, paginates its tool
 * list two tools a page, and lets a test change a tool's definition (sending
 * `notifications/tools/list_changed` to every session), stop, and start again on the same port.
 */

/** What one tool call reached the upstream with. */
export interface ReceivedCall {
  readonly tool: string;
  readonly args: Record<string, unknown>;
  readonly headers: IncomingHttpHeaders;
  /** Request target of the POST that carried the call (`/mcp`). */
  readonly target: string;
  readonly meta: Record<string, unknown> | undefined;
}

export interface TestUpstream {
  readonly url: string;
  readonly port: number;
  readonly calls: ReceivedCall[];
  /** Calls whose handler saw its abort signal fire (cancellation reached the upstream). */
  readonly aborted: string[];
  /** Replace `name`'s description and tell every session its tools changed. */
  setDescription(name: string, description: string): Promise<void>;
  /** Every `tools/list` request served. */
  readonly listRequests: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function baseTools(): Tool[] {
  return [
    { name: 'echo', description: 'Echo the text back', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }, annotations: { readOnlyHint: true } },
    { name: 'slow', description: 'Waits until cancelled', inputSchema: { type: 'object' } },
    { name: 'progress', description: 'Reports progress twice', inputSchema: { type: 'object' } },
    { name: 'get_reviews', title: 'Reviews', description: 'Performance reviews of an employee', inputSchema: { type: 'object', properties: { employee: { type: 'string' } } }, outputSchema: { type: 'object', properties: { reviews: { type: 'array' } } } },
    { name: 'bad name!', description: 'A name the gateway refuses', inputSchema: { type: 'object' } },
  ];
}


export async function startTestUpstream(opts: { port?: number; path?: string } = {}): Promise<TestUpstream> {
  const path = opts.path ?? '/mcp';
  const tools = baseTools();
  const calls: ReceivedCall[] = [];
  const aborted: string[] = [];
  const sessions = new Map<string, TestSession>();
  let listRequests = 0;

  const buildServer = (): Server => {
    const server = new Server({ name: 'test-upstream', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    server.setRequestHandler(ListToolsRequestSchema, (req) => {
      listRequests++;
      const start = Number(req.params?.cursor ?? 0);
      const page = tools.slice(start, start + 2);
      return start + 2 < tools.length ? { tools: page, nextCursor: String(start + 2) } : { tools: page };
    });
    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const name = req.params.name;
      const args = (req.params.arguments ?? {}) as Record<string, unknown>;
      const url = extra.requestInfo?.url;
      calls.push({ tool: name, args, headers: extra.requestInfo?.headers as IncomingHttpHeaders, target: url ? url.pathname + url.search : '', meta: req.params._meta as Record<string, unknown> | undefined });
      if (name === 'echo') return { content: [{ type: 'text', text: String(args.text) }] };
      if (name === 'get_reviews') return { content: [{ type: 'text', text: '{"reviews":[]}' }], structuredContent: { reviews: [] } };
      if (name === 'progress') {
        const token = req.params._meta?.progressToken;
        if (token !== undefined) {
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2, message: 'half' } });
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 2, total: 2 } });
        }
        return { content: [{ type: 'text', text: 'done' }] };
      }
      if (name === 'slow') {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 10_000);
          extra.signal.addEventListener('abort', () => {
            aborted.push(name);
            clearTimeout(timer);
            resolve();
          });
        });
        return { content: [{ type: 'text', text: 'finished' }] };
      }
      return { content: [{ type: 'text', text: 'no such tool' }], isError: true };
    });
    return server;
  };

  const route = sessionRouter(sessions, buildServer);
  const handler = async (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    if (!req.url?.startsWith(path)) {
      res.writeHead(404).end();
      return;
    }
    await route(req, res);
  };


  let http: HttpServer | undefined;
  let port = opts.port ?? 0;
  const start = async () => {
    http = createServer((req, res) => void handler(req, res));
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
      return `http://127.0.0.1:${port}${path}`;
    },
    get port() {
      return port;
    },
    calls,
    aborted,
    get listRequests() {
      return listRequests;
    },
    async setDescription(name, description) {
      const tool = tools.find((t) => t.name === name);
      if (tool === undefined) throw new Error(`no tool ${name}`);
      tool.description = description;
      for (const s of sessions.values()) await s.server.sendToolListChanged().catch(() => undefined);
    },
    stop,
    start,
  };
}
