/**
 * The real gateway (`startGateway`, the whole HTTP pipeline and its forward stage) in front of
 * test backends, with a dev IdP minting Alice's tokens and an audit store that keeps every
 * record the gateway asks it to append, so a test can see how each exchange ended.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import type { AuditRecord, StoredAuditRecord } from '../../src/audit/record.js';
import { validateConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { AuditStore } from '../../src/stores/types.js';

/** Alice as the dev IdP knows her; with {@link ALICE_CLIENT}, {@link ALICE_SCOPES} and {@link TENANT}. */
export const ALICE = { id: 'alice', name: 'Alice Example', email: 'alice@acme.test', roles: ['manager', 'employee'], groups: ['platform'] };
/** The acting client Alice's tokens name (`client_id`, `azp`). */
export const ALICE_CLIENT = 'chatgpt-connector';
export const ALICE_SCOPES = ['hr.read', 'hr.write'];
/** The tenant the test issuer puts every user in. */
export const TENANT = 'acme';

/** Runs before each record is kept: it may wait (a slow write) or throw (a write that fails). */
export type AppendHook = (record: AuditRecord) => void | Promise<void>;

/** A running gateway, its IdP and what it audited. */
export interface RouteGateway {
  readonly gateway: Gateway;
  /** The bound address, `http://127.0.0.1:<port>` (not the public URL). */
  readonly url: string;
  readonly publicUrl: string;
  readonly idp: DevIdp;
  /** Every record the gateway asked to append, in order, including those the hook made fail. */
  readonly records: AuditRecord[];
  /** `{ authorization: 'Bearer <Alice's token for the gateway>' }`. */
  auth(opts?: Parameters<DevIdp['mint']>[1]): Promise<Record<string, string>>;
  /**
   * The record of `requestId` (or the first one `requestId` accepts), waiting up to `waitMs` (a
   * request cut short is audited after the client saw the cut).
   */
  recordOf(requestId: string | ((record: AuditRecord) => boolean), waitMs?: number): Promise<AuditRecord>;
  /** The `/metrics` text. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/** An audit store in memory that records what it is given; `hook` runs first. */
function recordingStore(records: AuditRecord[], hook: AppendHook | undefined): AuditStore {
  return {
    async append(batch) {
      for (const record of batch) {
        records.push(record);
        await hook?.(record);
      }
    },
    async *query(): AsyncIterable<StoredAuditRecord> {},
    verify: async () => ({ ok: true, records: records.length }),
    close: async () => undefined,
  };
}

/**
 * Starts a dev IdP and a gateway configured with `config` (routes, tools, upstreams, policies,
 * server settings). Unless given, `policies` allow everything to anyone; the issuer puts every
 * user in {@link TENANT} and accepts tokens for `publicUrl` (default `https://gateway.test`,
 * which only names the gateway: tests call {@link RouteGateway.url}).
 */
export async function startRouteGateway(config: Omit<Partial<ConfigInput>, 'server'> & { server?: Partial<ConfigInput['server']> }, opts: { onAppend?: AppendHook } = {}): Promise<RouteGateway> {
  const publicUrl = config.server?.publicUrl ?? 'https://gateway.test';
  const dir = await mkdtemp(join(tmpdir(), 'behalf-forward-'));
  const idp = await startDevIdp({ users: [ALICE], audience: publicUrl, defaultScopes: ALICE_SCOPES, log: () => undefined });
  const validated = validateConfig({
    issuers: [{ id: 'dev', issuer: idp.issuer, audience: publicUrl, jwksUri: idp.jwksUri, tenant: TENANT }],
    signing: { keyFile: join(dir, 'keys.json') },
    policies: [{ id: 'anyone', effect: 'allow' }],
    ...config,
    server: { host: '127.0.0.1', port: 0, ...config.server, publicUrl },
  });
  if (!validated.ok) {
    await idp.close();
    throw new Error(`test config invalid: ${validated.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  }
  const records: AuditRecord[] = [];
  let gateway: Gateway;
  try {
    gateway = await startGateway({ config: validated.config, baseDir: dir, file: join(dir, 'behalf.yaml') }, {
      logger: pino({ level: 'silent' }),
      auditStore: recordingStore(records, opts.onAppend),
    });
  } catch (err) {
    await idp.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const url = gateway.address;
  return {
    gateway,
    url,
    publicUrl,
    idp,
    records,
    auth: async (mint) => ({ authorization: `Bearer ${await idp.mint(ALICE.id, { client: ALICE_CLIENT, ...mint })}` }),
    async recordOf(requestId, waitMs = 2_000) {
      const match = typeof requestId === 'string' ? (r: AuditRecord) => r.requestId === requestId : requestId;
      const deadline = Date.now() + waitMs;
      for (;;) {
        // A change's intent comes first; its outcome is the request's record.
        const record = records.find((r) => r.phase !== 'intent' && match(r));
        if (record !== undefined) return record;
        if (Date.now() > deadline) throw new Error(`no matching audit record within ${waitMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    async close() {
      await gateway.close();
      await idp.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An MCP client of `gw` as Alice (a token for the MCP endpoint), returned once `tool` is listed:
 * an upstream MCP server's tools appear shortly after the gateway starts. Fails after 10 s.
 */
export async function connectAlice(gw: RouteGateway, name: string, tool: string): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: await gw.auth({ audience: `${gw.publicUrl}/mcp` }) } }));
  const deadline = Date.now() + 10_000;
  while (!(await client.listTools()).tools.some((t) => t.name === tool)) {
    if (Date.now() > deadline) throw new Error(`the gateway did not list ${tool} within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return client;
}

/**
 * One backend of every kind for tests that compare them: the `reviews` route (on `backendUrl`)
 * and the config tool `get_review` calling it, and the upstream MCP server `hr-mcp` (tools under
 * `hr.`) at `upstreamUrl`, audience `mcp-backend`. Callers add their own routes before these.
 */
export function everyBackendKind(backendUrl: string, upstreamUrl: string) {
  return {
    routes: [{ id: 'reviews', path: '/api/reviews', upstream: `${backendUrl}/reviews`, audience: 'reviews-backend' }],
    tools: [
      {
        name: 'get_review',
        description: 'Read an employee review',
        inputSchema: { type: 'object', properties: { employee: { type: 'string' } }, required: ['employee'] },
        call: { route: 'reviews', method: 'GET' as const, path: '/{employee}' },
      },
    ],
    upstreams: [{ id: 'hr-mcp', namespace: 'hr', url: upstreamUrl, pinning: 'off' as const, identity: { audience: 'mcp-backend' } }],
  };
}
