import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';
import { sessionRouter, type TestSession } from './session-router.js';

/**
 * A real MCP server (the SDK's low-level `Server`, Streamable HTTP, stateful sessions) serving an
 * HR company's resources, prompts and completions, plus tools that log, ask the client for a
 * completion (sampling) and ask the user (elicitation). It records what every request reached it
 * with (headers, `_meta`), so tests can check the identity the gateway sent.
 *
 * - resources `hr://handbook`, `hr://reviews/<id>` for alice, bob, mallory; template `hr://reviews/{employee}`
 *   (any employee id reads as `Review of <id>`); subscriptions accepted for any URI;
 * - prompts `review_summary` (argument `employee`) and `handbook_intro`; completion of `employee`
 *   from the directory's ids;
 * - tools `ask_model` (sampling), `ask_user` (elicitation), `chatty` (logs debug, info, warning).
 */

/** What one request reached the upstream with. */
export interface ReceivedRequest {
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly headers: IncomingHttpHeaders;
  /** Request target of the POST that carried it (`/mcp`). */
  readonly target: string;
}

export interface FeatureUpstream {
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** URIs subscribed to now, by any session. */
  readonly subscribed: Set<string>;
  /** Sends `notifications/resources/updated` for `uri` to every session subscribed to it. */
  updated(uri: string): Promise<void>;
  /** Sends a log message outside any request (on the sessions' GET streams). */
  logOutside(data: string): Promise<void>;
  /** Starts serving one more tool and tells every session (`notifications/tools/list_changed`). */
  addTool(name: string): Promise<void>;
  stop(): Promise<void>;
}

export const EMPLOYEES = ['alice', 'bob', 'carol', 'dave', 'mallory'];

const RESOURCES = [
  { uri: 'hr://handbook', name: 'handbook', description: 'The employee handbook', mimeType: 'text/plain' },
  ...['alice', 'bob', 'mallory'].map((id) => ({ uri: `hr://reviews/${id}`, name: `review-${id}`, description: `Performance review of ${id}`, mimeType: 'text/plain' })),
];


export async function startFeatureUpstream(): Promise<FeatureUpstream> {
  const received: ReceivedRequest[] = [];
  const subscribed = new Set<string>();
  const sessions = new Map<string, TestSession>();
  const addedTools: { name: string; description: string; inputSchema: { type: 'object' } }[] = [];

  const buildServer = (): Server => {
    const server = new Server(
      { name: 'hr-features', version: '1.0.0' },
      { capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, prompts: {}, completions: {}, logging: {} } },
    );
    const seen = (method: string, params: unknown, extra: { requestInfo?: { headers: IncomingHttpHeaders; url?: URL } }) => {
      const url = extra.requestInfo?.url;
      received.push({ method, params: (params ?? {}) as Record<string, unknown>, headers: extra.requestInfo?.headers ?? {}, target: url ? url.pathname + url.search : '' });
    };
    server.setRequestHandler(SetLevelRequestSchema, (req, extra) => (seen('logging/setLevel', req.params, extra as never), {}));
    server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: RESOURCES }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
      resourceTemplates: [{ uriTemplate: 'hr://reviews/{employee}', name: 'review', description: 'Performance review of an employee', mimeType: 'text/plain' }],
    }));
    server.setRequestHandler(ReadResourceRequestSchema, (req, extra) => {
      seen('resources/read', req.params, extra as never);
      const uri = req.params.uri;
      if (uri === 'hr://handbook') return { contents: [{ uri, mimeType: 'text/plain', text: 'Be kind.' }] };
      const m = /^hr:\/\/reviews\/([a-z0-9-]+)$/.exec(uri);
      if (m !== null) return { contents: [{ uri, mimeType: 'text/plain', text: `Review of ${m[1]}` }] };
      throw new McpError(-32002, 'Resource not found', { uri });
    });
    server.setRequestHandler(SubscribeRequestSchema, (req, extra) => (seen('resources/subscribe', req.params, extra as never), subscribed.add(req.params.uri), {}));
    server.setRequestHandler(UnsubscribeRequestSchema, (req, extra) => (seen('resources/unsubscribe', req.params, extra as never), subscribed.delete(req.params.uri), {}));
    server.setRequestHandler(ListPromptsRequestSchema, () => ({
      prompts: [
        { name: 'review_summary', description: 'Summarise an employee review', arguments: [{ name: 'employee', required: true }] },
        { name: 'handbook_intro', description: 'Introduce the handbook' },
      ],
    }));
    server.setRequestHandler(GetPromptRequestSchema, (req, extra) => {
      seen('prompts/get', req.params, extra as never);
      if (req.params.name === 'review_summary') return { description: 'summary', messages: [{ role: 'user', content: { type: 'text', text: `Summarise the review of ${req.params.arguments?.['employee']}` } }] };
      if (req.params.name === 'handbook_intro') return { messages: [{ role: 'user', content: { type: 'text', text: 'Introduce the handbook' } }] };
      throw new McpError(ErrorCode.InvalidParams, 'Unknown prompt');
    });
    server.setRequestHandler(CompleteRequestSchema, (req, extra) => {
      seen('completion/complete', req.params, extra as never);
      const values = EMPLOYEES.filter((e) => e.startsWith(req.params.argument.value));
      return { completion: { values, total: values.length, hasMore: false } };
    });
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: [
        { name: 'ask_model', description: 'Asks the client model', inputSchema: { type: 'object', properties: { question: { type: 'string' } } } },
        { name: 'ask_user', description: 'Asks the user', inputSchema: { type: 'object' } },
        { name: 'chatty', description: 'Logs at three levels', inputSchema: { type: 'object' } },
        ...addedTools,
      ],
    }));
    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      seen('tools/call', req.params, extra as never);
      const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
      try {
        if (req.params.name === 'ask_model') {
          const r = await extra.sendRequest(
            { method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: String(req.params.arguments?.['question'] ?? 'hi') } }], maxTokens: 50 } },
            CreateMessageResultSchema,
          );
          return text(`model said: ${r.content.type === 'text' ? r.content.text : '?'} (${r.model})`);
        }
        if (req.params.name === 'ask_user') {
          const r = await extra.sendRequest(
            { method: 'elicitation/create', params: { message: 'Which period?', requestedSchema: { type: 'object', properties: { period: { type: 'string' } }, required: ['period'] } } },
            ElicitResultSchema,
          );
          return text(`user ${r.action}: ${JSON.stringify(r.content ?? {})}`);
        }
        if (req.params.name === 'chatty') {
          for (const level of ['debug', 'info', 'warning'] as LoggingLevel[]) await extra.sendNotification({ method: 'notifications/message', params: { level, logger: 'chatty', data: `a ${level} message` } });
          return text('done');
        }
      } catch (err) {
        return { ...text(`failed: ${err instanceof McpError ? `${err.code} ${err.message}` : String(err)}`), isError: true };
      }
      return { ...text('no such tool'), isError: true };
    });
    return server;
  };

  const handler = sessionRouter(sessions, buildServer);


  const http: HttpServer = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    received,
    subscribed,
    async updated(uri) {
      for (const s of sessions.values()) await s.server.sendResourceUpdated({ uri }).catch(() => undefined);
    },
    async addTool(name) {
      addedTools.push({ name, description: `Added at run time: ${name}`, inputSchema: { type: 'object' } });
      for (const s of sessions.values()) await s.server.sendToolListChanged().catch(() => undefined);
    },
    async logOutside(data) {
      for (const s of sessions.values()) await s.server.sendLoggingMessage({ level: 'error', data }).catch(() => undefined);
    },
    async stop() {
      for (const s of sessions.values()) await s.server.close().catch(() => undefined);
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
