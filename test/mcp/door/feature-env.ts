/**
 * A gateway fronting the HR feature upstream (test/mcp/upstreams/feature-server.ts) as `hr`,
 * with rules for its resources, prompts and tools, and SDK clients signed in as demo users.
 */
import assert from 'node:assert/strict';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Client, type ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { startFeatureUpstream, type FeatureUpstream } from '../upstreams/feature-server.js';
import { startDoorEnv, type DoorEnv } from './harness.js';

/** Gateway credential for the upstream: what it must see instead of any user token. */
export const GATEWAY_CREDENTIAL = 'Bearer gateway-own-key-for-hr-features';

/**
 * The rules: everyone reads the handbook and their own review; a manager also reads the reviews
 * of her reports (so Alice sees Bob's and, through the template, Carol's); nobody outside
 * Finance reads Mallory's. Managers get `hr.review_summary` for a report; everyone gets
 * `hr.handbook_intro`; the three relay tools are open.
 */
export const FEATURE_POLICIES: ConfigInput['policies'] = [
  { id: 'handbook-for-all', effect: 'allow', match: { resources: ['hr://handbook'] } },
  { id: 'own-review', effect: 'allow', match: { resources: ['hr://reviews/*'] }, when: 'body.uri == "hr://reviews/" + user.id' },
  { id: 'reports-reviews', effect: 'allow', match: { resources: ['hr://reviews/*'] }, roles: ['manager'], when: 'body.uri in user.reports.map(r, "hr://reviews/" + r)' },
  { id: 'finance-reviews-stay-in-finance', effect: 'deny', match: { resources: ['hr://reviews/mallory'] }, when: 'user.department != "Finance"' },
  { id: 'summaries-for-managers', effect: 'allow', match: { prompts: ['hr.review_summary'] }, roles: ['manager'], when: 'body.employee in user.reports' },
  { id: 'handbook-intro-for-all', effect: 'allow', match: { prompts: ['hr.handbook_intro'] } },
  { id: 'relay-tools', effect: 'allow', match: { tools: ['hr.ask_model', 'hr.ask_user', 'hr.chatty'] } },
];

export interface FeatureEnv {
  env: DoorEnv;
  upstream: FeatureUpstream;
  /** An SDK client signed in as `user` (session-based, protocol 2025-11-25). */
  connect(user: string, options?: ClientOptions): Promise<Client>;
  close(): Promise<void>;
}

/** Starts the upstream and the gateway, and waits until the gateway lists the upstream's tools. */
export async function startFeatureEnv(extra: Partial<ConfigInput> = {}): Promise<FeatureEnv> {
  const upstream = await startFeatureUpstream();
  const env = await startDoorEnv(
    {
      upstreams: [{ id: 'hr-mcp', namespace: 'hr', url: upstream.url, headers: { Authorization: GATEWAY_CREDENTIAL }, pinning: 'off', timeoutMs: 5_000 }],
      policies: FEATURE_POLICIES,
      ...extra,
    },
    { configured: true },
  );
  const clients: Client[] = [];
  const connect = async (user: string, options?: ClientOptions) => {
    const token = await env.token(user);
    const client = new Client({ name: 'feature-test', version: '1.0.0' }, options);
    await client.connect(new StreamableHTTPClientTransport(new URL(env.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  };
  const probe = await connect('alice');
  const deadline = Date.now() + 10_000;
  while ((await probe.listTools()).tools.length === 0) {
    if (Date.now() > deadline) throw new Error('the gateway listed no upstream tools within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    env,
    upstream,
    connect,
    async close() {
      for (const c of clients) await c.close().catch(() => undefined);
      await env.close();
      await upstream.stop();
    },
  };
}

/** The JSON-RPC error `p` rejects with; fails the test when it resolves or rejects otherwise. */
export async function rpcError(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof McpError) return err;
    throw err;
  }
  assert.fail('expected a JSON-RPC error');
}
