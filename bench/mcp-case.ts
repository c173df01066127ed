// The MCP case of `npm run bench`: `tools/call` of one instant tool of an upstream MCP server,
// straight to it and through behalf, for two upstreams: the official SDK's server
// (mcp-upstream.ts) and a minimal raw JSON-RPC one (mcp-raw-upstream.ts). Each load loop (one
// per connection) is one MCP client: it opens its own session (`initialize`, then
// `notifications/initialized`), sends every call with its `Mcp-Session-Id` and
// `MCP-Protocol-Version`, and ends the session with DELETE after the run. A call counts only if
// it is a 200 whose JSON-RPC answer has a result that is not `isError`.
import { runLoad, type LoadResult } from './load.js';

/** The version both sides settle on (the SDK's latest, which behalf speaks). */
export const MCP_PROTOCOL_VERSION = '2025-11-25';
/** The tool's name on both upstreams (mcp-upstream.ts, mcp-raw-upstream.ts). */
export const MCP_TOOL = 'get_review';
/** behalf's id and namespace for the SDK upstream: the tool is `bench.get_review` through behalf. */
export const MCP_UPSTREAM_ID = 'bench';
/** behalf's id and namespace for the raw upstream: the tool is `raw.get_review` through behalf. */
export const MCP_RAW_UPSTREAM_ID = 'raw';
/** The arguments of every call: `bob` is a report of the bench user, so the policy allows it. */
const ARGS = { employee: 'bob' };

/**
 * What behalf's config needs for the case: the upstreams, by id to their `/mcp` URL (each one's
 * tool declared read-only), the endpoint (`mcp: {}`: defaults, at `/mcp`), and a rule like the
 * HTTP case's (a scope and a CEL condition over the directory) for every upstream's tool.
 * `top` goes at the top level, `policy` into the `policies:` list.
 */
export function mcpConfigYaml(upstreamMcpUrls: Record<string, string>): { top: string; policy: string } {
  const ids = Object.keys(upstreamMcpUrls);
  // The tool reads (a review lookup): declared so, as an operator would, so its record is
  // written before the answer and fsynced with its batch, like a GET on the HTTP route.
  const upstreams = ids.map((id) => `  - { id: ${id}, url: "${upstreamMcpUrls[id]}", readOnlyTools: [${MCP_TOOL}] }\n`).join('');
  return {
    top: `mcp: {}\nupstreams:\n${upstreams}`,
    policy: `  - id: manager-reads-reports-mcp
    effect: allow
    match: { tools: [${ids.map((id) => `${id}.${MCP_TOOL}`).join(', ')}] }
    scopes: [reviews:read]
    when: body.employee in user.reports
`,
  };
}

/** One MCP endpoint to drive: its origin, path, tool name there, and bearer token (behalf only). */
export interface McpEndpoint {
  url: string;
  path: string;
  tool: string;
  token?: string;
}

const baseHeaders = (ep: McpEndpoint): Record<string, string> => ({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': MCP_PROTOCOL_VERSION,
  ...(ep.token === undefined ? {} : { authorization: `Bearer ${ep.token}` }),
});

async function post(ep: McpEndpoint, headers: Record<string, string>, message: unknown): Promise<Response> {
  return fetch(`${ep.url}${ep.path}`, { method: 'POST', headers, body: JSON.stringify(message) });
}

/** Opens one session: `initialize`, then `notifications/initialized`. Returns its headers. */
async function openSession(ep: McpEndpoint): Promise<Record<string, string>> {
  const init = await post(ep, baseHeaders(ep), {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: MCP_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'behalf-bench', version: '0.1.0' } },
  });
  const sessionId = init.headers.get('mcp-session-id');
  const answer = await init.text();
  if (init.status !== 200 || sessionId === null) throw new Error(`initialize at ${ep.url}${ep.path} answered ${init.status} ${answer.slice(0, 200)}`);
  const headers = { ...baseHeaders(ep), 'mcp-session-id': sessionId };
  const initialized = await post(ep, headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
  await initialized.text();
  if (initialized.status !== 202) throw new Error(`notifications/initialized answered ${initialized.status}`);
  return headers;
}

async function closeSession(ep: McpEndpoint, headers: Record<string, string>): Promise<void> {
  await (await fetch(`${ep.url}${ep.path}`, { method: 'DELETE', headers })).text();
}

/** The body of request `n`: a `tools/call` with a unique id (calls of a session run concurrently). */
const callBody = (tool: string) => (n: number) => JSON.stringify({ jsonrpc: '2.0', id: n + 1, method: 'tools/call', params: { name: tool, arguments: ARGS } });

/** A 200 answer is a success only with a result that is not a tool error (JSON, or one SSE event). */
function isToolResult(body: string): boolean {
  try {
    const json = body.startsWith('{') ? body : (/^data: ?(.*)$/m.exec(body)?.[1] ?? '');
    const message = JSON.parse(json) as { result?: { isError?: boolean; content?: unknown } };
    return message.result !== undefined && message.result.isError !== true && Array.isArray(message.result.content);
  } catch {
    return false;
  }
}

/**
 * Waits until a call through `ep` succeeds: behalf connects to its upstreams in the background,
 * and the tool is unknown until the upstream's tools are listed. Throws after `timeoutMs`.
 */
export async function waitForTool(ep: McpEndpoint, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const headers = await openSession(ep);
  let last = '';
  try {
    while (Date.now() < deadline) {
      const res = await post(ep, headers, JSON.parse(callBody(ep.tool)(0)));
      last = await res.text();
      if (res.status === 200 && isToolResult(last)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await closeSession(ep, headers);
  }
  throw new Error(`${ep.tool} at ${ep.url}${ep.path} never answered a result: ${last.slice(0, 200)}`);
}

/** One measurement: a session per connection, `tools/call` in closed loops, sessions ended. */
export async function runMcpLoad(ep: McpEndpoint, connections: number, seconds: number): Promise<LoadResult> {
  const sessions = await Promise.all(Array.from({ length: connections }, () => openSession(ep)));
  try {
    return await runLoad({ url: ep.url, path: ep.path, headers: (loop) => sessions[loop]!, connections, seconds, body: callBody(ep.tool), check: isToolResult });
  } finally {
    await Promise.all(sessions.map((h) => closeSession(ep, h)));
  }
}
