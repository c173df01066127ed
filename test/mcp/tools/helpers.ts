/** Shared set-up for the config-tool tests: a validated config, real signing keys, a call context. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Identity } from '../../../src/authenticate/identity.js';
import { validateConfig } from '../../../src/config/load.js';
import type { Config, ConfigInput } from '../../../src/config/schema.js';
import { bodyDigest } from '../../../src/lib/digest.js';
import { createAssertionSigner, type AssertionSigner } from '../../../src/forward/identity/signed-assertion.js';
import { loadSigningKeys, type SigningKeys } from '../../../src/forward/identity/signing-keys.js';
import type { ToolCallContext } from '../../../src/tools/types.js';

export const PUBLIC_URL = 'https://gw.example.test';

/** Validates a config made of the given routes, tools and policies (the rest is fixed). */
export function testConfig(parts: Pick<ConfigInput, 'routes' | 'tools' | 'policies'>): Config {
  const result = validateConfig({
    server: { publicUrl: PUBLIC_URL },
    issuers: [{ id: 'idp', issuer: 'https://idp.example.test', audience: PUBLIC_URL, jwksUri: 'https://idp.example.test/jwks' }],
    ...parts,
  });
  if (!result.ok) throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  return result.config;
}

/** Real ES256 gateway keys in a temporary directory, and the signer the gateway would use. */
export async function testSigner(): Promise<{ keys: SigningKeys; signer: AssertionSigner; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'behalf-tools-'));
  const keys = await loadSigningKeys({ algorithm: 'ES256', keyFile: join(dir, 'keys.json'), rotateAfterDays: 0, overlapSeconds: 3_600 }, { baseDir: dir });
  return { keys, signer: createAssertionSigner(keys, { issuer: PUBLIC_URL }), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A verified identity as authenticate would build it. */
export function who(id: string, extra: Partial<Identity> = {}): Identity {
  return { id, issuer: 'https://idp.example.test', issuerId: 'idp', roles: [], groups: [], scopes: [], expiresAt: 4_102_444_800, ...extra };
}

/** The digest the door computes; here of the plain JSON text (the exact canonical form is the door's). */
export function digestOf(args: unknown): string {
  return bodyDigest(JSON.stringify(args));
}

/** A call context for `identity`, never cancelled unless `signal` is given. */
export function callContext(identity: Identity, args: unknown, signal: AbortSignal = new AbortController().signal): ToolCallContext {
  return { identity, requestId: 'req-test-1', argumentsDigest: digestOf(args), signal };
}
