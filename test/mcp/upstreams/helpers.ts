import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { canonicalJson } from '../../../src/lib/canonical-json.js';
import type { Identity } from '../../../src/authenticate/identity.js';
import { configSchema, type UpstreamConfig } from '../../../src/config/schema.js';
import { bodyDigest } from '../../../src/lib/digest.js';
import { createAssertionSigner, type AssertionSigner } from '../../../src/forward/identity/signed-assertion.js';
import { loadSigningKeys, type SigningKeys } from '../../../src/forward/identity/signing-keys.js';
import type { ToolCallContext } from '../../../src/tools/types.js';

export const GATEWAY = 'https://gateway.example';
export const quiet = pino({ level: 'silent' });

const made: string[] = [];

/** A fresh temp directory; {@link removeTempDirs} (in the file's top-level `after`) removes it. */
export async function tempDir(prefix = 'behalf-upstreams-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every directory {@link tempDir} made. */
export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Real ES256 keys in `dir` and the gateway's signer. */
export async function gatewayKeys(dir: string): Promise<{ keys: SigningKeys; signer: AssertionSigner }> {
  const keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: join(dir, 'signing-keys.json'), rotateAfterDays: 0, overlapSeconds: 3_600 }, { baseDir: dir });
  return { keys, signer: createAssertionSigner(keys, { issuer: GATEWAY }) };
}

/** Upstream entries as the config schema outputs them (defaults filled in). */
export function upstreamConfigs(upstreams: unknown[]): UpstreamConfig[] {
  const parsed = configSchema.parse({
    server: { publicUrl: GATEWAY },
    issuers: [{ id: 'demo', issuer: 'https://idp.example', audience: GATEWAY }],
    upstreams,
  });
  return parsed.upstreams;
}

export const alice: Identity = {
  id: 'alice',
  issuer: 'https://idp.example',
  issuerId: 'demo',
  tenant: 'acme',
  email: 'alice@acme.example',
  roles: ['manager'],
  groups: ['platform'],
  scopes: ['hr.read'],
  client: 'claude',
  expiresAt: Math.floor(Date.now() / 1000) + 3_600,
};

/** What the MCP door hands a source for one call of `args` by Alice. */
export function callContext(args: Record<string, unknown>, over: Partial<ToolCallContext> = {}): ToolCallContext {
  return {
    identity: alice,
    requestId: 'req-test-1',
    argumentsDigest: bodyDigest(canonicalJson(args)),
    signal: new AbortController().signal,
    ...over,
  };
}

/** Polls `cond` every 10 ms until it holds, or fails after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A free port on 127.0.0.1 (nothing listens on it when this resolves). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
