import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An upstream MCP server written by hand (node:http, JSON answers, no session), so a test can
 * make it answer what no SDK server would serialise: a `tools/call` result nested 50,000 levels
 * deep is written as text, never built as an object. Tools:
 * - `take`: any object as arguments; answers `ok`.
 * - `deep`: answers a result whose `structuredContent` nests `depth` objects (argument, default 50,000).
 * - `deep_schema`: a tool whose input schema nests 70 levels (past the gateway's 64).
 * Resources: `raw://deep`, whose `resources/read` result nests 50,000 levels in its `_meta`.
 * Every `tools/call` it receives is counted in `calls` (by tool name), so a test can tell whether
 * the gateway let a call through.
 */
export interface RawUpstream {
  readonly url: string;
  /** Tool names of the `tools/call` requests received, in order. */
  readonly calls: string[];
  close(): Promise<void>;
}

const TOOLS = [
  { name: 'take', description: 'Takes any arguments', inputSchema: { type: 'object' } },
  { name: 'deep', description: 'Answers a deeply nested result', inputSchema: { type: 'object', properties: { depth: { type: 'integer' } } } },
  { name: 'deep_schema', description: 'Declares an input schema nested 70 levels', inputSchema: nestedSchema(70) },
];

/** An object schema whose properties nest `depth` levels of JSON. */
function nestedSchema(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  // Each level adds two (the schema object and its `properties`).
  for (let i = 0; i < depth / 2; i++) schema = { type: 'object', properties: { a: schema } };
  return schema;
}

/** JSON text of an object nested `depth` levels: `{"a":{"a":...{"a":1}...}}`. */
export function nestedObjectText(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** JSON text of arrays nested `depth` levels: `[[[...[1]...]]]`. */
export function nestedArrayText(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

export async function startRawUpstream(): Promise<RawUpstream> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // The gateway only sends messages its own bounds let through: parsing them here is safe.
      const msg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string | number; method?: string; params?: Record<string, unknown> };
      if (msg.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const answer = (resultText: string) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"jsonrpc":"2.0","id":${JSON.stringify(msg.id)},"result":${resultText}}`);
      };
      switch (msg.method) {
        case 'initialize': {
          const version = typeof msg.params?.['protocolVersion'] === 'string' ? msg.params['protocolVersion'] : '2025-06-18';
          answer(JSON.stringify({ protocolVersion: version, capabilities: { tools: {}, resources: {} }, serverInfo: { name: 'raw-upstream', version: '1.0.0' } }));
          return;
        }
        case 'tools/list':
          answer(JSON.stringify({ tools: TOOLS }));
          return;
        case 'resources/list':
          answer(JSON.stringify({ resources: [{ uri: 'raw://deep', name: 'deep', mimeType: 'text/plain' }] }));
          return;
        case 'resources/templates/list':
          answer(JSON.stringify({ resourceTemplates: [] }));
          return;
        case 'resources/read':
          calls.push(`read ${String(msg.params?.['uri'])}`);
          answer(`{"contents":[{"uri":"raw://deep","mimeType":"text/plain","text":"deep","_meta":${nestedObjectText(50_000)}}]}`);
          return;
        case 'tools/call': {
          const name = String(msg.params?.['name']);
          calls.push(name);
          if (name === 'deep') {
            const args = msg.params?.['arguments'] as { depth?: number } | undefined;
            answer(`{"content":[{"type":"text","text":"deep"}],"structuredContent":${nestedObjectText(args?.depth ?? 50_000)}}`);
            return;
          }
          answer('{"content":[{"type":"text","text":"ok"}]}');
          return;
        }
        default:
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
