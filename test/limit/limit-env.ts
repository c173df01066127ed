/**
 * A gateway for the limit tests: the dev IdP, a backend whose answers each test controls, and
 * one route per scenario, with an optional limit store passed in (a Redis store with the test
 * file's key prefix, or one that points at a cut connection).
 */
import { readAuditTrail } from '../audit/helpers.js';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { freePort } from '../../examples/hr-demo/launch.js';
import type { StoredAuditRecord } from '../../src/audit/record.js';
import { validateConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import type { DevIdp } from '../../src/dev-idp/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { LimitStore } from '../../src/stores/types.js';
import { bearer, startQuietIdp } from '../e2e/e2e-env.js';
import { startRecordingBackend, type RecordingBackend } from '../e2e/harness.js';

export interface LimitEnv {
  gateway: Gateway;
  url: string;
  idp: DevIdp;
  backend: RecordingBackend;
  /** `{ authorization: 'Bearer ...' }` for a demo user (alice, bob, carol, mallory). */
  auth(user: string): Promise<Record<string, string>>;
  auditRecords(): Promise<StoredAuditRecord[]>;
  /** Text of `/metrics`. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/** The backend's answer per request; default 200 `{"ok":true}`. */
export type Respond = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** Options of {@link startLimitEnv}. */
export interface LimitEnvOptions {
  /** Route ids: each becomes `/api/<id>` -> `<backend>/<id>`, allowed to every authenticated user. */
  routes: string[];
  /** The config's `limits` section. */
  limits: ConfigInput['limits'];
  respond?: Respond;
  /** Passed to the gateway instead of opening `limits.store`. */
  limitStore?: LimitStore;
  /** An IdP shared with other gateways (not closed with this env), whose tokens carry `audience`. */
  shared?: { idp: DevIdp; audience: string };
  /** The clock of the gateway and of the env's own IdP (a test clock); default the real one. */
  now?: () => number;
}

/** Starts backend, IdP (unless shared) and gateway. */
export async function startLimitEnv(opts: LimitEnvOptions): Promise<LimitEnv> {
  const backend = await startRecordingBackend(opts.respond);
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const idp = opts.shared?.idp ?? (await startQuietIdp(publicUrl, opts.now));
  const audience = opts.shared?.audience ?? publicUrl;
  const dir = await mkdtemp(join(tmpdir(), 'behalf-limit-'));
  const validated = validateConfig({
    server: { port, publicUrl },
    issuers: [{ id: 'dev', issuer: idp.issuer, audience, jwksUri: idp.jwksUri }],
    routes: opts.routes.map((id) => ({ id, path: `/api/${id}`, upstream: `${backend.url}/${id}` })),
    policies: [{ id: 'anyone', effect: 'allow', match: { routes: opts.routes } }],
    limits: opts.limits,
    signing: { keyFile: join(dir, 'keys.json') },
    audit: { store: join(dir, 'audit') },
  });
  if (!validated.ok) throw new Error(`test config invalid: ${validated.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const config = validated.config;
  let gateway: Gateway;
  try {
    gateway = await startGateway(
      { config, baseDir: dir, file: join(dir, 'behalf.yaml') },
      {
        logger: pino({ level: 'silent' }),
        ...(opts.limitStore === undefined ? {} : { limitStore: opts.limitStore }),
        ...(opts.now === undefined ? {} : { now: opts.now }),
      },
    );
  } catch (err) {
    // Left open, the backend and the IdP would keep the test file's process alive after the failure.
    if (opts.shared === undefined) await idp.close();
    await backend.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    gateway,
    url: publicUrl,
    idp,
    backend,
    auth: (user) => bearer(idp, user, { audience }),
    auditRecords: () => readAuditTrail(config.audit, dir),
    async metrics() {
      const res = await fetch(`${publicUrl}/metrics`);
      return res.text();
    },
    async close() {
      await gateway.close();
      if (opts.shared === undefined) await idp.close();
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The value of a counter sample in Prometheus text, 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).split(' ')[0] ?? '';
    if (want.every((w) => labelText.includes(w))) return Number(line.split(' ').at(-1));
  }
  return 0;
}
