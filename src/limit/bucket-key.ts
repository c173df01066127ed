import { createHash } from 'node:crypto';

/**
 * Bucket names: what a limit store keys its counters by. A name is `<label>:{<digest>}` where
 * the digest is SHA-256 over the JSON array of the label and the key parts (user, tenant, tool,
 * ...), base64url, 22 characters (132 bits). So:
 * - a user id, tenant or tool name never reaches the store in clear, and no value can add a
 *   `:` or `{` to the key's structure or make two different part lists collide (JSON quotes
 *   and separates every part);
 * - every key of one bucket shares the `{<digest>}` hash tag, so on Redis Cluster they live in
 *   one slot and one Lua script may touch them all;
 * - the label (a rule id, or `runaway`) stays readable for an operator browsing Redis.
 */

/**
 * The bucket name for `label` (a rule id: letters, digits, `.`, `_`, `-`) and `parts`.
 *
 * This does NOT check where the parts come from: the caller must build them from the verified
 * identity and the resolved route or tool only, never from a client header.
 */
export function bucketName(label: string, parts: readonly string[]): string {
  const digest = createHash('sha256').update(JSON.stringify([label, ...parts])).digest('base64url').slice(0, 22);
  return `${label}:{${digest}}`;
}
