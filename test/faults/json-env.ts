import type { OutgoingHttpHeaders } from 'node:http';
import { after, before } from 'node:test';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import type { ConfigInput } from '../../src/config/schema.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { send, type Reply } from '../e2e/bounded-client.js';
import { startQuietIdp } from '../e2e/e2e-env.js';
import { startRecordingBackend, startTestGateway, type RecordingBackend, type TestGateway } from '../e2e/harness.js';
import { stateless } from '../mcp/door/wire.js';
import { nestedObjectText, startRawUpstream, type RawUpstream } from './raw-upstream.js';

/**
 * One gateway with both doors over real HTTP on 127.0.0.1, for the untrusted-JSON fault tests:
 * - route `submit` (POST, a policy condition reads `body`) to a recording backend;
 * - config tools `submit_tool` (POSTs its arguments to the same backend) and `deep_backend`
 *   (GETs `/deep`, which the backend answers with JSON nested 50,000 levels);
 * - upstream `up` (a hand-written MCP server): `up.take` takes any arguments, `up.deep`
 *   answers a result nested 50,000 levels.
 * `extra` is merged into the config (to change a bound).
 */
export interface JsonFaultEnv {
  readonly idp: DevIdp;
  readonly backend: RecordingBackend;
  readonly upstream: RawUpstream;
  readonly gw: TestGateway;
  readonly token: string;
  /** POST `body` (raw JSON text) to the route. */
  postRoute(body: string): Promise<Reply>;
  /** A stateless `tools/call` of `tool` whose `arguments` are the raw JSON text `args`. */
  callTool(tool: string, args: string): Promise<Reply>;
  /** POST a raw JSON-RPC message text to `/mcp` with the stateless headers of `tools/call` of `tool`. */
  postMcp(tool: string, body: string): Promise<Reply>;
  /** The record of the request a reply answered (by `X-Request-Id`). */
  recordOf(reply: Reply): Promise<StoredAuditRecord | undefined>;
}

export function useJsonFaultEnv(extra: Partial<ConfigInput> = {}): JsonFaultEnv {
  const env = {} as { idp: DevIdp; backend: RecordingBackend; upstream: RawUpstream; gw: TestGateway; token: string };
  let rpcId = 1;
  before(async () => {
    env.backend = await startRecordingBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url?.startsWith('/deep') === true ? nestedObjectText(50_000) : '{"ok":true}');
    });
    env.upstream = await startRawUpstream();
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    env.idp = await startQuietIdp(`${publicUrl}/mcp`);
    env.token = await env.idp.mint('alice', { audience: [publicUrl, `${publicUrl}/mcp`] });
    env.gw = await startTestGateway({
      server: { port, publicUrl },
      issuers: [{ id: 'dev', issuer: env.idp.issuer, audience: [publicUrl, `${publicUrl}/mcp`], jwksUri: env.idp.jwksUri }],
      routes: [{ id: 'submit', path: '/api/submit', upstream: env.backend.url, methods: ['POST', 'GET'] }],
      mcp: {},
      tools: [
        { name: 'submit_tool', inputSchema: { type: 'object' }, call: { route: 'submit', method: 'POST', path: '/submit', body: '$args' } },
        { name: 'deep_backend', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true }, call: { route: 'submit', method: 'GET', path: '/deep' } },
      ],
      upstreams: [{ id: 'up', url: env.upstream.url, pinning: 'off', timeoutMs: 5_000 }],
      policies: [
        { id: 'submit-unless-mallory', effect: 'allow', match: { routes: ['submit'] }, when: '!has(body.who) || body.who != "mallory"' },
        { id: 'tools', effect: 'allow', match: { tools: ['submit_tool', 'deep_backend', 'up.take', 'up.deep', 'up.deep_schema'] } },
        { id: 'resources', effect: 'allow', match: { resources: ['raw://deep'] } },
      ],
      ...extra,
    });
    // The upstream's tools are served once its session is open and listed.
    const deadline = Date.now() + 5_000;
    while (!(await upstreamReady()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  });
  after(async () => {
    await env.gw?.close();
    await env.upstream?.close();
    await env.idp?.close();
    await env.backend?.close();
  });

  const upstreamReady = async (): Promise<boolean> => {
    const { body, headers } = stateless(env.token, 'tools/call', { name: 'up.take', arguments: {} }, { id: rpcId++ });
    const reply = await send(env.gw.url, { method: 'POST', path: '/mcp', headers, body: JSON.stringify(body) });
    return (JSON.parse(reply.body) as { result?: unknown }).result !== undefined;
  };
  const headersOf = (tool: string): OutgoingHttpHeaders => {
    const { headers } = stateless(env.token, 'tools/call', { name: tool, arguments: {} });
    return headers;
  };
  return {
    get idp() {
      return env.idp;
    },
    get backend() {
      return env.backend;
    },
    get upstream() {
      return env.upstream;
    },
    get gw() {
      return env.gw;
    },
    get token() {
      return env.token;
    },
    postRoute: (body) =>
      send(env.gw.url, { method: 'POST', path: '/api/submit/x', headers: { authorization: `Bearer ${env.token}`, 'content-type': 'application/json' }, body, timeoutMs: 10_000 }),
    callTool(tool, args) {
      const { body } = stateless(env.token, 'tools/call', { name: tool, arguments: { PLACEHOLDER: true } }, { id: rpcId++ });
      return this.postMcp(tool, JSON.stringify(body).replace('{"PLACEHOLDER":true}', args));
    },
    postMcp: (tool, body) => send(env.gw.url, { method: 'POST', path: '/mcp', headers: headersOf(tool), body, timeoutMs: 10_000 }),
    async recordOf(reply) {
      const id = String(reply.headers['x-request-id']);
      const deadline = Date.now() + 2_000;
      for (;;) {
        const record = (await env.gw.auditRecords()).findLast((r) => r.requestId === id);
        if (record !== undefined || Date.now() > deadline) return record;
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}
