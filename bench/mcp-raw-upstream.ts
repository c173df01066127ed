// The least an upstream MCP server does over Streamable HTTP, for the (m) raw case: node:http and
// JSON.parse, no SDK. It answers `initialize` (with an `Mcp-Session-Id`), notifications (202),
// `ping`, `tools/list` and `tools/call` of one instant read-only tool, `get_review`, as JSON
// responses. Nothing is kept per call or per session: the session id is handed out and accepted
// unchecked, DELETE ends nothing, GET has no stream to offer (405, as the transport allows).
// So its CPU per call is the floor for an MCP upstream in Node, and its memory cannot grow.
// `GET /memory` answers this process's heap and RSS after a full GC (with --expose-gc); prints its port.
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { MEMORY_PATH, memoryAnswer } from './upstream-memory.js';

/** The tool's name on this server (behalf serves it as `raw.get_review`; see mcp-case.ts). */
const BENCH_TOOL = 'get_review';
const PROTOCOL_VERSION = '2025-11-25';

const TOOL = {
  name: BENCH_TOOL,
  description: 'An employee review (answers at once)',
  inputSchema: { type: 'object', properties: { employee: { type: 'string' } }, required: ['employee'] },
  annotations: { readOnlyHint: true },
};

interface Message {
  jsonrpc?: unknown;
  id?: string | number;
  method?: unknown;
  params?: { name?: unknown; arguments?: { employee?: unknown }; protocolVersion?: unknown };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}

const error = (id: Message['id'] | null, code: number, message: string) => ({ jsonrpc: '2.0', id, error: { code, message } });

/** The answer to one request (never a notification: those are 202 before this). */
function answer(m: Message): unknown {
  const id = m.id!;
  switch (m.method) {
    case 'initialize':
      return { jsonrpc: '2.0', id, result: { protocolVersion: PROTOCOL_VERSION, capabilities: { tools: {} }, serverInfo: { name: 'bench-raw-upstream', version: '1.0.0' } } };
    case 'ping':
      return { jsonrpc: '2.0', id, result: {} };
    case 'tools/list':
      return { jsonrpc: '2.0', id, result: { tools: [TOOL] } };
    case 'tools/call': {
      const employee = m.params?.arguments?.employee;
      if (m.params?.name !== BENCH_TOOL || typeof employee !== 'string') return error(id, -32602, 'Invalid params');
      const text = JSON.stringify({ reviews: [{ employee, rating: 'meets', summary: 'Solid delivery.' }] });
      return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } };
    }
    default:
      return error(id, -32601, 'Method not found');
  }
}

const http = createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  if (req.method === 'GET' && path === MEMORY_PATH) return send(res, 200, memoryAnswer());
  if (path !== '/mcp') return void res.writeHead(404).end();
  if (req.method === 'DELETE') return void res.writeHead(200).end();
  if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST, DELETE' }).end();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let m: Message;
    try {
      m = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Message;
    } catch {
      return send(res, 400, error(null, -32700, 'Parse error'));
    }
    if (m === null || typeof m !== 'object' || Array.isArray(m) || m.jsonrpc !== '2.0' || typeof m.method !== 'string') return send(res, 400, error(null, -32600, 'Invalid Request'));
    if (m.id === undefined) return void res.writeHead(202).end();
    send(res, 200, answer(m), m.method === 'initialize' ? { 'mcp-session-id': randomUUID() } : {});
  });
});
http.keepAliveTimeout = 60_000;
http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
