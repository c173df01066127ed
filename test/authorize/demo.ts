import type { Identity } from '../../src/authenticate/identity.js';
import { buildSnapshot, type DirectorySnapshot } from '../../src/resolve/directory-snapshot.js';

/** The demo company: Alice manages Bob and Carol (Platform); Dave reports to Bob; Mallory is in Finance. */
export const DEMO_DIRECTORY_YAML = `
users:
  - { id: alice, name: Alice Adams, email: alice@example.com, department: Platform, title: Engineering Manager }
  - { id: bob, name: Bob Brown, manager: alice, department: Platform, title: Engineer }
  - { id: carol, name: Carol Chen, manager: alice, department: Platform, title: Engineer }
  - { id: dave, name: Dave Diaz, manager: bob, department: Platform, title: Intern }
  - { id: mallory, name: Mallory Moss, department: Finance, title: Analyst }
`;

/** The demo directory as a snapshot (version 1). */
export function demoDirectory(): DirectorySnapshot {
  const built = buildSnapshot(DEMO_DIRECTORY_YAML, 'yaml', 1, 0);
  if (!built.ok) throw new Error('demo directory is invalid');
  return built.snapshot;
}

/** A verified identity as authenticate would build it; only what a test names differs. */
export function identity(id: string, extra: Partial<Identity> = {}): Identity {
  return { id, issuer: 'https://idp.example.com', issuerId: 'demo', roles: [], groups: [], scopes: [], expiresAt: 4_102_444_800, ...extra };
}
