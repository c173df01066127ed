/**
 * A gateway with only its MCP endpoint, serving a small in-test tool catalog, with the dev IdP
 * minting tokens for `<publicUrl>/mcp`. The catalog implements the `ToolCatalog` / `ToolSource`
 * contracts of src/tools/types.ts, so the door is tested without any real backend.
 */
import { readAuditTrail } from '../../audit/helpers.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { DEMO_DIR, freePort } from '../../../examples/hr-demo/launch.js';
import type { StoredAuditRecord } from '../../../src/audit/record.js';
import { validateConfig } from '../../../src/config/load.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import type { DevIdp } from '../../../src/dev-idp/index.js';
import { startGateway, type Gateway } from '../../../src/gateway.js';
import type { AuditStore } from '../../../src/stores/types.js';
import type { CatalogTool, ToolCallContext, ToolCallResult, ToolCatalog, ToolDefinition, ToolSource } from '../../../src/tools/types.js';
import { startQuietIdp } from '../../e2e/e2e-env.js';

/** What a source saw of one call: everything a backend would get from the gateway. */
export interface SeenCall {
  tool: string;
  args: Readonly<Record<string, unknown>>;
  user: string;
  issuer: string;
  argumentsDigest: string;
  requestId: string;
}

/** A tool source whose tools answer from a function; it records every call. */
export class TestSource implements ToolSource {
  readonly kind = 'http' as const;
  readonly calls: SeenCall[] = [];
  /** Calls whose signal was aborted (the client cancelled or went away). */
  aborted = 0;
  constructor(
    readonly id: string,
    private readonly run: (tool: string, args: Readonly<Record<string, unknown>>, ctx: ToolCallContext) => Promise<ToolCallResult>,
  ) {}

  async call(tool: string, args: Readonly<Record<string, unknown>>, ctx: ToolCallContext): Promise<ToolCallResult> {
    this.calls.push({ tool, args, user: ctx.identity.id, issuer: ctx.identity.issuer, argumentsDigest: ctx.argumentsDigest, requestId: ctx.requestId });
    ctx.signal.addEventListener('abort', () => (this.aborted += 1), { once: true });
    return this.run(tool, args, ctx);
  }
}

/** A catalog over fixed tools, looked up through a Map (as the real one is). */
export function testCatalog(tools: readonly CatalogTool[]): ToolCatalog {
  const byName = new Map(tools.map((t) => [t.definition.name, t]));
  return { list: () => tools, get: (name) => byName.get(name) };
}

const object = (properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

/** `whoami`: anyone; `team.reports`: managers; `finance.ledger`: the finance group; `slow`: progress then a result; `reviews.write`: scope `reviews:write`; `broken`: an upstream that changed (blocked). */
export const DEFINITIONS: Record<string, ToolDefinition> = {
  whoami: { name: 'whoami', description: 'Who the backend sees', inputSchema: object({ note: { type: 'string' } }), annotations: { readOnlyHint: true } },
  'team.reports': { name: 'team.reports', inputSchema: object({ employee: { type: 'string' } }, ['employee']) },
  'finance.ledger': { name: 'finance.ledger', inputSchema: object({}) },
  slow: { name: 'slow', inputSchema: object({ steps: { type: 'integer', minimum: 1, maximum: 50 }, stepMs: { type: 'integer', minimum: 1, maximum: 1000 } }, ['steps']) },
  'reviews.write': { name: 'reviews.write', inputSchema: object({ text: { type: 'string' } }) },
  broken: { name: 'broken', inputSchema: object({}) },
  region: {
    name: 'region',
    inputSchema: object({ region: { type: 'string', 'x-mcp-header': 'Region' }, query: { type: 'string' } }, ['region']),
  },
};

/** The policy the tests run under: each rule shape once (no rule, roles, groups, scopes, a condition on the arguments). */
export const POLICIES: ConfigInput['policies'] = [
  { id: 'anyone-whoami', effect: 'allow', match: { tools: ['whoami', 'slow', 'broken', 'region'] } },
  { id: 'managers-reports', effect: 'allow', match: { tools: ['team.reports'] }, roles: ['manager'], when: 'body.employee in user.reports' },
  { id: 'finance-ledger', effect: 'allow', match: { tools: ['finance.ledger'] }, groups: ['finance'] },
  { id: 'reviews-write', effect: 'allow', match: { tools: ['reviews.write'] }, scopes: ['reviews:write'] },
];

export interface DoorEnv {
  gateway: Gateway;
  publicUrl: string;
  idp: DevIdp;
  /** `<publicUrl>/mcp`. */
  mcpUrl: string;
  source: TestSource;
  token(user: string, opts?: Parameters<DevIdp['mint']>[1]): Promise<string>;
  /** The audit trail so far, in order (read-only). */
  auditRecords(): Promise<StoredAuditRecord[]>;
  close(): Promise<void>;
}

/**
 * Starts the dev IdP (audience `<publicUrl>/mcp`), and a gateway whose endpoint serves
 * {@link DEFINITIONS} from one {@link TestSource}. `extra` is merged into the config. With
 * `configured`, the endpoint serves the config's own tools and upstreams instead.
 */
export async function startDoorEnv(extra: Partial<ConfigInput> = {}, opts: { configured?: boolean; auditStore?: AuditStore } = {}): Promise<DoorEnv> {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const mcpUrl = `${publicUrl}/mcp`;
  const idp = await startQuietIdp(mcpUrl);
  const source = new TestSource('config', async (tool, args, ctx) => {
    if (tool === 'slow') {
      const steps = Number(args['steps']);
      const stepMs = Number(args['stepMs'] ?? 20);
      for (let i = 1; i <= steps; i++) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, stepMs);
          ctx.signal.addEventListener('abort', () => (clearTimeout(timer), reject(ctx.signal.reason)), { once: true });
        });
        ctx.onProgress?.({ progress: i, total: steps, message: `step ${i}` });
      }
      return { content: [{ type: 'text', text: `done after ${steps} steps` }] };
    }
    if (tool === 'finance.ledger') return { content: [{ type: 'text', text: 'ledger unavailable' }], isError: true, upstreamStatus: 503, detail: 'backend answered 503' };
    const seen = { user: ctx.identity.id, tool, args };
    return { content: [{ type: 'text', text: JSON.stringify(seen) }], structuredContent: seen, upstreamStatus: 200 };
  });
  const tools: CatalogTool[] = Object.values(DEFINITIONS).map((definition) => (definition.name === 'broken' ? { definition, source, pin: 'blocked' } : { definition, source }));
  const dir = await mkdtemp(join(tmpdir(), 'behalf-mcp-door-'));
  const validated = validateConfig({
    server: { port, publicUrl },
    issuers: [{ id: 'demo', issuer: idp.issuer, audience: publicUrl, requireType: 'at+jwt' }],
    directory: { file: join(DEMO_DIR, 'directory.yaml') },
    policies: POLICIES,
    signing: { keyFile: join(dir, 'keys.json') },
    audit: { store: join(dir, 'audit') },
    ...extra,
  });
  if (!validated.ok) throw new Error(`test config invalid: ${validated.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const config = validated.config;
  const gateway = await startGateway({ config, baseDir: dir, file: join(dir, 'behalf.yaml') }, {
    logger: pino({ level: 'silent' }),
    ...(opts.configured === true ? {} : { toolCatalog: testCatalog(tools) }),
    ...(opts.auditStore === undefined ? {} : { auditStore: opts.auditStore }),
  });
  return {
    gateway,
    publicUrl,
    idp,
    mcpUrl,
    source,
    token: (user, opts) => idp.mint(user, { audience: mcpUrl, ...opts }),
    auditRecords: () => readAuditTrail(config.audit, dir),
    async close() {
      await gateway.close();
      await idp.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An SDK client connected to the endpoint as `user` (bearer token in `requestInit.headers`). */
export async function connectAs(env: DoorEnv, user: string, opts?: Parameters<DevIdp['mint']>[1]): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const token = await env.token(user, opts);
  const transport = new StreamableHTTPClientTransport(new URL(env.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: 'behalf-door-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}
