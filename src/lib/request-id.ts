import { randomFillSync } from 'node:crypto';

const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = POOL_IDS;

/**
 * 128-bit crypto-random request id, base64url (22 chars). Random bytes are drawn 4 KiB at a
 * time (one system call per 256 ids instead of one per request); each id uses its own bytes.
 */
export function newRequestId(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const start = next++ * 16;
  return pool.toString('base64url', start, start + 16);
}
