/**
 * Starts the whole HR demo on loopback: a DEV-ONLY identity provider, the HR backend, and behalf
 * configured by `behalf.yaml` beside this file. Used by `npm start`, `npm run demo` and the e2e
 * tests (which pass port 0 everywhere).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { loadConfigFile } from '../../src/config/load.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/index.js';
import { readDevUsersFile } from '../../src/dev-idp/users-file.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { startHrBackend, type HrBackend } from './hr-backend.js';
import { DEV_IDP_KEY_FILE } from './stack.js';

export const DEMO_DIR = dirname(fileURLToPath(import.meta.url));

/** The demo users (users.yaml beside this file, which `behalf dev-idp --users` reads too). */
export const DEMO_USERS = readDevUsersFile(join(DEMO_DIR, 'users.yaml'));

/** The key that LLM integrations share today; only the "before" half of the demo uses it. */
export const SHARED_API_KEY = 'demo-shared-key-everyone-uses';

export interface DemoPorts {
  gateway: number;
  idp: number;
  hr: number;
  admin: number;
}

export interface Demo {
  gatewayUrl: string;
  /** The admin API (approvals with a user's own token; revocations with `adminToken`). */
  adminUrl: string;
  /** Random per launch; never printed. */
  adminToken: string;
  idp: DevIdp;
  hr: HrBackend;
  gateway: Gateway;
  stateDir: string;
  configFile: string;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Fixed ports; each one left out (or 0) is a free one. */
  ports?: Partial<DemoPorts>;
  /** Signing keys, the audit trail and the dev IdP's key go here. Default `.behalf/demo`. */
  stateDir?: string;
  logger?: Logger;
  /** Where the dev IdP's start-up line goes. Default: standard error. */
  idpLog?: (line: string) => void;
}

export async function launchDemo(opts: LaunchOptions = {}): Promise<Demo> {
  const stateDir = resolve(opts.stateDir ?? '.behalf/demo');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const gatewayPort = opts.ports?.gateway ?? (await freePort());
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;

  const idp = await startDevIdp({
    port: opts.ports?.idp ?? 0,
    users: DEMO_USERS,
    // The HTTP routes and the MCP endpoint are two protected resources (RFC 8707): an OAuth
    // client asks for one with `resource`; a token minted by the demo scripts carries both.
    audience: [gatewayUrl, `${gatewayUrl}/mcp`],
    defaultScopes: ['reviews:read', 'reviews:write'],
    // Kept with the rest of the demo's state: tokens survive a restart, and `npm run demo` signs
    // its expired-token example with it when it runs against the `npm start` stack.
    keyFile: join(stateDir, DEV_IDP_KEY_FILE),
    ...(opts.idpLog === undefined ? {} : { log: opts.idpLog }),
  });
  const adminPort = opts.ports?.admin ?? (await freePort());
  const adminToken = randomBytes(24).toString('base64url');
  const hr = await startHrBackend({ gatewayUrl, audience: 'hr-backend', legacyApiKey: SHARED_API_KEY, port: opts.ports?.hr ?? 0 });
  const configFile = join(DEMO_DIR, 'behalf.yaml');
  try {
    const loaded = await loadConfigFile(configFile, {
      BEHALF_PORT_NUMBER: String(gatewayPort),
      BEHALF_PUBLIC_URL: gatewayUrl,
      DEMO_IDP_URL: idp.issuer,
      DEMO_HR_URL: hr.url,
      DEMO_STATE_DIR: stateDir,
      DEMO_ADMIN_PORT: String(adminPort),
      DEMO_ADMIN_TOKEN: adminToken,
    });
    const gateway = await startGateway(loaded, opts.logger ? { logger: opts.logger } : {});
    return {
      gatewayUrl,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      adminToken,
      idp,
      hr,
      gateway,
      stateDir,
      configFile,
      close: async () => {
        await gateway.close();
        await hr.close();
        await idp.close();
      },
    };
  } catch (err) {
    await hr.close();
    await idp.close();
    throw err;
  }
}

/** A port that was free a moment ago (the gateway's public URL must be known before it listens). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}
