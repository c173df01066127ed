/** Test helpers: a gateway from a config object, and a recording backend, both on 127.0.0.1. */
import { readAuditTrail } from '../audit/helpers.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { pino } from 'pino';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { validateConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway.js';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  dir: string;
  auditRecords(): Promise<StoredAuditRecord[]>;
  close(): Promise<void>;
}

/**
 * Starts a gateway from a config object. `publicUrl` must be known before listening, so the
 * caller passes a port from `freePort()` in both `server.port` and `server.publicUrl`. `opts`
 * reach `startGateway` (a test clock, ...); the logger is silent unless given.
 */
export async function startTestGateway(input: ConfigInput, opts: GatewayOptions = {}): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'behalf-e2e-'));
  const withState: ConfigInput = {
    ...input,
    signing: { keyFile: join(dir, 'keys.json'), ...input.signing },
    audit: { store: join(dir, 'audit'), ...input.audit },
  };
  const result = validateConfig(withState);
  if (!result.ok) throw new Error(`test config invalid: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const gateway = await startGateway({ config: result.config, baseDir: dir, file: join(dir, 'behalf.yaml') }, { logger: pino({ level: 'silent' }), ...opts });
  return {
    gateway,
    url: result.config.server.publicUrl,
    dir,
    auditRecords: () => readAuditTrail(result.config.audit, dir),
    async close() {
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RecordingBackend {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** A backend that records every request and answers with `respond` (default: 200 `{"ok":true}`). */
export async function startRecordingBackend(respond?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void): Promise<RecordingBackend> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (respond) respond(req, res, body);
      else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A dev IdP for Alice (tokens for `http://gateway.test`), a recording backend and a temp folder. */
export interface AliceFixture {
  readonly idp: DevIdp;
  readonly backend: RecordingBackend;
  readonly dir: string;
}

/**
 * Starts an {@link AliceFixture} before the file's tests and stops it after them. The fields are
 * filled in by `before`: read them inside tests only.
 */
export function useAliceFixture(dirPrefix: string): AliceFixture {
  const fx = {} as { idp: DevIdp; backend: RecordingBackend; dir: string };
  before(async () => {
    fx.dir = await mkdtemp(join(tmpdir(), dirPrefix));
    fx.backend = await startRecordingBackend();
    fx.idp = await startDevIdp({ users: [{ id: 'alice', name: 'Alice', email: 'alice@example.test' }], audience: 'http://gateway.test', log: () => {} });
  });
  after(async () => {
    await fx.idp.close();
    await fx.backend.close();
    await rm(fx.dir, { recursive: true, force: true });
  });
  return fx;
}

/**
 * A gateway on a free port routing `/api` to the fixture's recording backend for anyone Alice's
 * IdP vouches for, its keys under `<fx.dir>/<name>`. `audit` is the config's audit section;
 * `opts` go to `startGateway` (an audit store to inject, say).
 */
export async function startAnyoneGateway(fx: AliceFixture, name: string, audit: Record<string, unknown>, opts: GatewayOptions = {}): Promise<{ gateway: Gateway; url: string }> {
  const port = await freePort();
  const result = validateConfig({
    server: { port, publicUrl: `http://127.0.0.1:${port}` },
    issuers: [{ id: 'idp', issuer: fx.idp.issuer, audience: 'http://gateway.test' }],
    signing: { keyFile: join(fx.dir, name, 'keys.json') },
    routes: [{ id: 'api', path: '/api', upstream: fx.backend.url }],
    policies: [{ id: 'anyone', effect: 'allow', match: { routes: ['api'] } }],
    audit,
  });
  if (!result.ok) throw new Error(`invalid test config: ${JSON.stringify(result.problems)}`);
  const gateway = await startGateway({ config: result.config, baseDir: join(fx.dir, name), file: 'behalf.yaml' }, { logger: pino({ level: 'silent' }), ...opts });
  return { gateway, url: `http://127.0.0.1:${port}` };
}
